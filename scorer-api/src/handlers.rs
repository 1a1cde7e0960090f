//! The route handlers, one file per endpoint family: a new endpoint is one new file here, its
//! route in [`crate::app`], its path in [`crate::docs`] and its metrics label in the
//! middleware's route list.

pub mod authoring;
pub mod diff;
pub(crate) mod fallback;
pub mod intake;
pub mod operations;
pub mod rules;
pub mod scan;
pub mod score;
