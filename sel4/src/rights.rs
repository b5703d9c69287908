//! Access rights of a capability.

use crate::sys;

/// The rights a capability grants: read, write, grant (pass capabilities
/// through an endpoint), grant-reply (call through an endpoint; seL4 11.0.0
/// and later, ignored by older kernels).
///
/// ```
/// use sel4::CapRights;
/// let r = CapRights::READ_WRITE.with_grant(true);
/// assert!(r.read && r.write && r.grant && !r.grant_reply);
/// assert_eq!(CapRights::ALL, CapRights::new(true, true, true, true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapRights {
    /// Read (receive on an endpoint, wait on a notification, read a frame).
    pub read: bool,
    /// Write (send on an endpoint, signal a notification, write a frame).
    pub write: bool,
    /// Grant: send capabilities through an endpoint.
    pub grant: bool,
    /// Grant-reply: call an endpoint (seL4 11.0.0 and later).
    pub grant_reply: bool,
}

impl CapRights {
    /// No rights.
    pub const NONE: CapRights = CapRights::new(false, false, false, false);
    /// Read only.
    pub const READ: CapRights = CapRights::new(true, false, false, false);
    /// Write only.
    pub const WRITE: CapRights = CapRights::new(false, true, false, false);
    /// Read and write.
    pub const READ_WRITE: CapRights = CapRights::new(true, true, false, false);
    /// Every right.
    pub const ALL: CapRights = CapRights::new(true, true, true, true);

    /// Rights from each flag.
    pub const fn new(read: bool, write: bool, grant: bool, grant_reply: bool) -> CapRights {
        CapRights {
            read,
            write,
            grant,
            grant_reply,
        }
    }

    /// These rights with `grant` set or cleared.
    pub const fn with_grant(self, grant: bool) -> CapRights {
        CapRights { grant, ..self }
    }

    /// These rights with `grant_reply` set or cleared.
    pub const fn with_grant_reply(self, grant_reply: bool) -> CapRights {
        CapRights {
            grant_reply,
            ..self
        }
    }

    /// The kernel's `seL4_CapRights_t` (its generated bitfield; kernels
    /// before 11.0.0 have no grant-reply field and ignore that flag).
    pub fn into_sys(self) -> sys::CapRights {
        let b = |f: bool| u64::from(f);
        crate::sel4_cfg_if! { kernel >= 11 {
            sys::CapRights::new(b(self.grant_reply), b(self.grant), b(self.read), b(self.write))
        } else {
            sys::CapRights::new(b(self.grant), b(self.read), b(self.write))
        } }
    }

    /// The rights of a kernel `seL4_CapRights_t`.
    pub fn from_sys(r: sys::CapRights) -> CapRights {
        let grant_reply = crate::sel4_cfg_if! { kernel >= 11 {
            r.get_cap_allow_grant_reply() != 0
        } else {
            false
        } };
        CapRights {
            read: r.get_cap_allow_read() != 0,
            write: r.get_cap_allow_write() != 0,
            grant: r.get_cap_allow_grant() != 0,
            grant_reply,
        }
    }
}

impl From<CapRights> for sys::CapRights {
    fn from(r: CapRights) -> sys::CapRights {
        r.into_sys()
    }
}

impl From<sys::CapRights> for CapRights {
    fn from(r: sys::CapRights) -> CapRights {
        CapRights::from_sys(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_kernel_bitfield() {
        // write bit 0, read bit 1, grant bit 2 on every kernel
        assert_eq!(CapRights::WRITE.into_sys().0, 0b001);
        assert_eq!(CapRights::READ.into_sys().0, 0b010);
        assert_eq!(CapRights::NONE.with_grant(true).into_sys().0, 0b100);
        let all = if sys::KERNEL_VERSION_MAJOR >= 11 {
            0b1111
        } else {
            0b111
        };
        assert_eq!(CapRights::ALL.into_sys().0, all);
        for r in [CapRights::READ_WRITE, CapRights::ALL, CapRights::NONE] {
            let back = CapRights::from_sys(r.into_sys());
            assert_eq!(
                (back.read, back.write, back.grant),
                (r.read, r.write, r.grant)
            );
        }
    }
}
