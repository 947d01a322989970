//! The last-admin guard: no change may leave the installation without an admin who can log in.

use crate::db::{Read, users};
use crate::error::{Error, Result};

/// Counts the admins who can log in before a change, so that `check` can refuse a change that
/// would leave none: the installation would be locked out. The caller's transaction then rolls
/// back.
pub struct AdminGuard(i64);

impl AdminGuard {
    pub fn new(tx: &Read) -> Result<AdminGuard> {
        Ok(AdminGuard(users::count_usable_admins(tx)?))
    }

    pub fn check(self, tx: &Read, refusal: &str) -> Result<()> {
        if self.0 > 0 && users::count_usable_admins(tx)? == 0 {
            return Err(Error::conflict(refusal));
        }
        Ok(())
    }
}
