//! Robustness tests: memory (see main.rs).
