//! The hash maps kept between requests: foldhash, keyed with a secret seed.
//!
//! Every cache behind the request path (fetched objects, device records, templates, rendered
//! files, last good answers, rate limits, last-seen marks; in the native server also the
//! folder store's copies and the fleet's recent fetches) is a hash map whose keys come from
//! what phones send: store keys carry the MAC in the path, limits the client's address. std's
//! SipHash is keyed, so a client cannot choose keys that collide, but it cost about 7 % of a
//! steady request in the engine (profiled natively; about 5 % in the filter's V8). foldhash
//! is several times faster on short keys and is keyed the same way, from a seed the client
//! cannot see: here std's own `RandomState`, which draws from the operating system's random
//! source where the target has one (natively and under WASI; in a Worker, std's fallback, as
//! for std's maps before). foldhash's own global seed is not used: in wasm it comes from
//! addresses and the clock, which are guessable there.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

use foldhash::fast::{FoldHasher, SeedableRandomState};
use foldhash::SharedSeed;

/// A `HashMap` hashed by foldhash under a per-process secret seed.
pub type SeededMap<K, V> = HashMap<K, V, Seeded>;

/// The process's secret seed, drawn once.
static SHARED: LazyLock<SharedSeed> = LazyLock::new(|| SharedSeed::from_u64(drawn()));

/// 64 random bits from std's keyed hasher: a fresh `RandomState` hashes a constant under keys
/// it drew from the operating system (and varies them per instance).
fn drawn() -> u64 {
    RandomState::new().hash_one(0x7072_6f76_6564_6765_u64)
}

/// Builds foldhash hashers under the process's secret seed and a seed of each map's own, so
/// two maps do not even share their collisions.
#[derive(Clone, Debug)]
pub struct Seeded(SeedableRandomState);

impl Default for Seeded {
    fn default() -> Seeded {
        Seeded(SeedableRandomState::with_seed(
            drawn(),
            LazyLock::force(&SHARED),
        ))
    }
}

impl BuildHasher for Seeded {
    type Hasher = FoldHasher<'static>;

    fn build_hasher(&self) -> FoldHasher<'static> {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map's hashes depend on its seed: neither foldhash's fixed seed nor another map's. (A
    /// hasher that ignored its seed would let a client precompute colliding keys.)
    #[test]
    fn hashes_depend_on_the_seed() {
        let key = "cfg000b82123456.xml";
        let ours = Seeded::default();
        let fixed = SeedableRandomState::fixed();
        let differ = |other: &dyn Fn(&str) -> u64| {
            // One equal hash could be chance; sixteen cannot.
            (0..16).any(|i| ours.hash_one(format!("{key}{i}")) != other(&format!("{key}{i}")))
        };
        assert!(differ(&|k| fixed.hash_one(k)));
        let another = Seeded::default();
        assert!(differ(&|k| another.hash_one(k)));
        // Within one map, the same key always hashes the same.
        assert_eq!(ours.hash_one(key), ours.hash_one(key));
    }

    #[test]
    fn a_seeded_map_is_a_map() {
        let mut map: SeededMap<String, u32> = SeededMap::default();
        for i in 0..1000 {
            map.insert(format!("devices/{i:012x}.json"), i);
        }
        assert_eq!(map.len(), 1000);
        assert!((0..1000).all(|i| map.get(&format!("devices/{i:012x}.json")) == Some(&i)));
    }
}
