// Intentionally empty: this package is only used with `cargo metadata`.
