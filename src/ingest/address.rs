//! Flow endpoints packed in 8 bytes. `Option<IpAddr>` takes 17 and a flow has two: 340 MB of
//! ten million flows for addresses that are almost all IPv4. An IPv4 address is kept in the
//! word itself; an IPv6 address by its index in one process-wide table of the distinct IPv6
//! addresses seen (a capture or a day of flows holds thousands, not millions, and each costs
//! about 40 bytes once). No crate packs an optional address this way: interning crates hold
//! strings, and `ipnet`-style types are the full 16 bytes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{LazyLock, PoisonError, RwLock};

/// An optional IP address in one word (see the module's note).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackedAddr(u64);

/// No address.
const NONE: u64 = u64::MAX;
/// Words from here on name an IPv6 address by its index in [`V6`].
const V6_BASE: u64 = 1 << 32;

/// Every IPv6 address packed so far, and the index of each.
#[derive(Default)]
struct V6Table {
    addresses: Vec<Ipv6Addr>,
    index: HashMap<Ipv6Addr, u64>,
}

static V6: LazyLock<RwLock<V6Table>> = LazyLock::new(RwLock::default);

impl PackedAddr {
    pub const NONE: PackedAddr = PackedAddr(NONE);

    pub fn new(addr: Option<IpAddr>) -> Self {
        match addr {
            None => PackedAddr(NONE),
            Some(IpAddr::V4(a)) => PackedAddr(u64::from(a.to_bits())),
            Some(IpAddr::V6(a)) => PackedAddr(V6_BASE + intern(a)),
        }
    }

    pub fn get(self) -> Option<IpAddr> {
        match self.0 {
            NONE => None,
            word if word < V6_BASE => Some(IpAddr::V4(Ipv4Addr::from_bits(word as u32))),
            word => {
                let table = V6.read().unwrap_or_else(PoisonError::into_inner);
                table.addresses.get((word - V6_BASE) as usize).copied().map(IpAddr::V6)
            }
        }
    }
}

impl Default for PackedAddr {
    fn default() -> Self {
        PackedAddr::NONE
    }
}

impl std::fmt::Debug for PackedAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Whether `addr` was ever packed in this process (it then stays in [`V6`]).
pub fn ipv6_is_kept(addr: Ipv6Addr) -> bool {
    V6.read().unwrap_or_else(PoisonError::into_inner).index.contains_key(&addr)
}

/// The index of `addr` in [`V6`], added when new.
fn intern(addr: Ipv6Addr) -> u64 {
    if let Some(&i) = V6.read().unwrap_or_else(PoisonError::into_inner).index.get(&addr) {
        return i;
    }
    let mut table = V6.write().unwrap_or_else(PoisonError::into_inner);
    let next = table.addresses.len() as u64;
    let i = *table.index.entry(addr).or_insert(next);
    if i == next {
        table.addresses.push(addr);
    }
    i
}
