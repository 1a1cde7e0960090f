//! Public, versioned output formats. Internal types convert into these; these never change
//! shape within a major version.

pub mod v1;
