//! The sandbox's rules as plain types, below everything that enforces them: which origins a
//! plugin may reach (`http`), what a connector may use (`limits`) and what the host may hold on an instance's
//! behalf (`budget`), and how
//! guest-supplied text is made safe to log (`guest_output`). No module of this crate is imported
//! here, so the brokers, the runtime and the configuration can all share these types without
//! importing each other.

pub mod budget;
pub mod guest_output;
pub mod http;
pub mod limits;
