//! The pluggable parts of FaceGate. A host picks an implementation of each by
//! handing it to [`crate::FaceGate::builder`].

pub mod consent;
pub mod face;
pub mod risk;
pub mod session;
