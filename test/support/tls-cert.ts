import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCert {
  cert: string;
  key: string;
  /** SHA-256, lowercase hex without colons (the form join strings carry). */
  fingerprint: string;
}

/**
 * A fresh self-signed certificate (openssl, Ed25519) in `dir`, named `name`-cert.pem and
 * `name`-key.pem, for `localhost`, 127.0.0.1 and any `ips` given.
 */
export function selfSignedCert(dir: string, name: string, ips: string[] = []): TestCert {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const san = ["DNS:localhost", "IP:127.0.0.1", ...ips.map((ip) => `IP:${ip}`)].join(",");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ed25519",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-addext",
      `subjectAltName=${san}`,
    ],
    { stdio: "ignore" },
  );
  const fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256.replace(/:/g, "").toLowerCase();
  return { cert, key, fingerprint };
}
