//! Each refusal, with its exact error.
