// Base error class for the VMM. Every error the core throws is a VmmError subclass with a
// short message; the underlying failure, when there is one, travels in `cause`.
export class VmmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
