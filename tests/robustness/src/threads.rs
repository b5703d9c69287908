//! Robustness tests: threads (see main.rs).
