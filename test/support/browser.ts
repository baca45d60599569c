import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { PACKAGE_ROOT } from "./paths.js";

/** Screenshots land here so a person (and CI artifacts) can look at them. */
export const SCREENSHOTS = join(PACKAGE_ROOT, "test-results", "screenshots");

export const DESKTOP = { width: 1400, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** Debian's chromium, driven by playwright-core (no browser download). */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export function screenshot(page: Page, name: string, fullPage = false): Promise<Buffer> {
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

/**
 * One element, whole: the dialog scrolls inside a fixed overlay, so an element screenshot would be
 * cut at the screen's edge. The viewport grows to the element's height for the shot, then returns.
 */
export async function screenshotOf(locator: Locator, name: string): Promise<Buffer> {
  const page = locator.page();
  const size = page.viewportSize()!;
  const height = await locator.evaluate((el) => Math.ceil(el.getBoundingClientRect().top + el.scrollHeight + 24));
  await page.setViewportSize({ width: size.width, height: Math.max(size.height, height) });
  try {
    return await locator.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  } finally {
    await page.setViewportSize(size);
  }
}

/** Whether the page scrolls sideways (a layout that does not fit a phone). */
export function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}
