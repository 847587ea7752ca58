//! The devices of an identity: the storage side of several devices per
//! Authentiq ID. The identity is a [`super::KeyRecord`] (its ID is the PK
//! of its first key); each device key that may sign for it is a
//! [`DeviceRecord`]. Registering a key makes it an identity with one
//! device, itself; revoking an identity removes every device of it.

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's key.
    pub pk: String,
    /// The identity it signs for.
    pub id_pk: String,
    pub name: String,
    pub added_at: i64,
    pub last_used_at: Option<i64>,
    /// When it was removed (or its identity revoked, or recovered).
    pub revoked_at: Option<i64>,
}

impl DeviceRecord {
    pub fn is_removed(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// The name the first device of an identity gets.
pub const FIRST_DEVICE: &str = "First device";

/// How often a device's last use is written at most, in seconds.
pub const TOUCH_INTERVAL: i64 = 60;

/// Devices, as every [`super::Store`] keeps them.
pub trait DeviceStore {
    /// The device with this key, removed or not; `NotFound` if unknown.
    fn get_device(&self, pk: &str) -> StoreResult<DeviceRecord>;
    /// The active devices of an identity, oldest first.
    fn list_devices(&self, id_pk: &str) -> StoreResult<Vec<DeviceRecord>>;
    /// Adds a device to a live identity: `Conflict("duplicate-key")` when
    /// the key is a device or an ID already; `NotFound` when the identity
    /// is unknown or revoked.
    fn add_device(&self, device: &DeviceRecord) -> StoreResult<()>;
    /// `NotFound` when the device is unknown or removed.
    fn rename_device(&self, pk: &str, name: &str) -> StoreResult<()>;
    /// Marks an active device removed: `Conflict("last-device")` when it is
    /// its identity's last active device (revoke the ID instead), decided
    /// in the same transaction; `NotFound` when unknown or removed.
    fn remove_device(&self, pk: &str, at: i64) -> StoreResult<()>;
    /// Records that the device signed something at `now`.
    fn touch_device(&self, pk: &str, now: i64) -> StoreResult<()>;
    /// Recovery, in one transaction: removes every active device of the
    /// live identity `device.id_pk`, adds `device` to it and replaces the
    /// identity's recovery secret hash. Returns the removed devices' keys.
    /// `NotFound` when the identity is not live; `Conflict("duplicate-key")`
    /// when the new key is a device or an ID already.
    fn recover_identity(
        &self,
        device: &DeviceRecord,
        secret_hash: &[u8],
        at: i64,
    ) -> StoreResult<Vec<String>>;
}
