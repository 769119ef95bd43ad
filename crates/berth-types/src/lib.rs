//! `berth-types`: the vocabulary every berth crate shares.
//!
//! Identifiers and name rules, the container state machine (one exhaustive
//! op × state table), container configuration and runtime-state records, the
//! monitor wire protocol and the one error type with its exit-code mapping.
//! This crate performs no I/O.

#![warn(missing_docs)]

pub mod busy;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod event;
pub mod exec;
pub mod fault;
pub mod health;
pub mod id;
pub mod monitor;
pub mod net;
pub mod pod;
pub mod reserve;
pub mod state;

pub use config::{
    ContainerConfig, ContainerRecord, MountKind, MountSpec, Resources, RestartPolicy, RuntimeState,
};
pub use error::{Error, ErrorKind, Result};
pub use state::{check_op, ContainerState, Op, Verdict};
