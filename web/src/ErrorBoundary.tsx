import { Component, type ReactNode } from "react";

/** Keeps one broken part of a view (an unexpected server answer) from blanking the whole board. */
export class ErrorBoundary extends Component<{ what: string; children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (this.state.error)
      return (
        <p className="error" role="alert">
          The {this.props.what} could not be shown: {this.state.error.message}
        </p>
      );
    return this.props.children;
  }
}
