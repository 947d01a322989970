//! Password hashing, secrets, JWTs and signing keys, and the Bearer principal.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod secret;
pub mod throttle;
