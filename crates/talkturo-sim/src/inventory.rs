//! The carrier inventory the simulator offers: generated deterministically from a seed, one pool
//! per number prefix and type, with prices that vary per number so "cheapest" means something.
//! Nothing here knows about ownership; the account state filters owned numbers out.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

/// A number that can be bought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub phone_number: String,
    pub monthly_price: Decimal,
    pub setup_price: Decimal,
    pub features: Vec<String>,
}

/// Whether a pool holds local or toll-free numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Local,
    TollFree,
}

impl Kind {
    /// Parses the API's `numberType`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Kind::Local),
            "toll-free" => Some(Kind::TollFree),
            _ => None,
        }
    }
}

const NANP_TOLL_FREE: [&str; 4] = ["800", "888", "877", "866"];

/// A country the simulated carrier serves.
struct Country {
    iso: &'static str,
    /// Calling code, without `+`.
    cc: &'static str,
    /// National prefixes of local pools searched when no area code is given.
    locals: &'static [&'static str],
    /// National prefixes of toll-free pools.
    toll_free: &'static [&'static str],
    /// National digits after the calling code.
    digits: usize,
}

const COUNTRIES: &[Country] = &[
    Country {
        iso: "US",
        cc: "1",
        locals: &["415", "212", "646", "310", "512", "206"],
        toll_free: &NANP_TOLL_FREE,
        digits: 10,
    },
    Country {
        iso: "CA",
        cc: "1",
        locals: &["604", "416", "514"],
        toll_free: &NANP_TOLL_FREE,
        digits: 10,
    },
    Country {
        iso: "GB",
        cc: "44",
        locals: &["20", "161"],
        toll_free: &["800"],
        digits: 10,
    },
    Country {
        iso: "DE",
        cc: "49",
        locals: &["30", "89"],
        toll_free: &["800"],
        digits: 11,
    },
    Country {
        iso: "FR",
        cc: "33",
        locals: &["1"],
        toll_free: &["805"],
        digits: 9,
    },
    Country {
        iso: "AU",
        cc: "61",
        locals: &["2", "3"],
        toll_free: &["1800"],
        digits: 9,
    },
];

/// The inventory of one simulator: a seed and the pool size.
#[derive(Clone, Debug)]
pub struct Inventory {
    seed: u64,
    pool_size: usize,
}

impl Inventory {
    pub fn new(seed: u64, pool_size: usize) -> Self {
        Self { seed, pool_size }
    }

    /// Every offer matching a search, in the carrier's order (not sorted by price), before
    /// removing owned numbers. Unknown countries offer nothing; `area_code` only narrows NANP
    /// (US, CA) searches and is ignored elsewhere, as the API docs say.
    pub fn search(&self, country: &str, area_code: Option<&str>, kind: Kind) -> Vec<Offer> {
        let Some(&Country {
            cc,
            locals,
            toll_free,
            digits,
            ..
        }) = COUNTRIES.iter().find(|c| c.iso == country)
        else {
            return Vec::new();
        };
        let nanp = cc == "1";
        let prefixes: Vec<&str> = match (kind, area_code) {
            (Kind::Local, Some(area)) if nanp => {
                if NANP_TOLL_FREE.contains(&area) {
                    Vec::new()
                } else {
                    vec![area]
                }
            }
            (Kind::TollFree, Some(area)) if nanp => {
                if NANP_TOLL_FREE.contains(&area) {
                    vec![area]
                } else {
                    Vec::new()
                }
            }
            (Kind::Local, _) => locals.to_vec(),
            (Kind::TollFree, _) => toll_free.to_vec(),
        };
        prefixes
            .into_iter()
            .flat_map(|p| self.pool(cc, p, digits, kind))
            .collect()
    }

    /// The offer for an exact number, if the carrier has it in its inventory.
    pub fn offer(&self, e164: &str) -> Option<Offer> {
        self.pool_of(e164)?
            .into_iter()
            .find(|o| o.phone_number == e164)
    }

    /// The pool an exact number belongs to (its neighbours on offer), if the carrier has it.
    pub fn pool_of(&self, e164: &str) -> Option<Vec<Offer>> {
        let national_of = |cc: &str| e164.strip_prefix('+')?.strip_prefix(cc);
        for &Country {
            cc,
            locals,
            toll_free,
            digits,
            ..
        } in COUNTRIES
        {
            let Some(national) = national_of(cc) else {
                continue;
            };
            if national.len() != digits {
                continue;
            }
            let nanp = cc == "1";
            let candidates: Vec<(&str, Kind)> = if nanp {
                let area = national.get(..3)?;
                let kind = if NANP_TOLL_FREE.contains(&area) {
                    Kind::TollFree
                } else {
                    Kind::Local
                };
                vec![(area, kind)]
            } else {
                locals
                    .iter()
                    .map(|p| (*p, Kind::Local))
                    .chain(toll_free.iter().map(|p| (*p, Kind::TollFree)))
                    .filter(|(p, _)| national.starts_with(p))
                    .collect()
            };
            for (prefix, kind) in candidates {
                let pool = self.pool(cc, prefix, digits, kind);
                if pool.iter().any(|o| o.phone_number == e164) {
                    return Some(pool);
                }
            }
        }
        None
    }

    /// One pool: `pool_size` distinct numbers under `+<cc><prefix>`, generated from the seed.
    fn pool(&self, cc: &str, prefix: &str, digits: usize, kind: Kind) -> Vec<Offer> {
        let key = format!("{}/{cc}/{prefix}/{kind:?}", self.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(key.as_bytes()));
        let rest = digits.saturating_sub(prefix.len());
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(self.pool_size);
        // A bounded loop: duplicates are rare, and a tiny number space must not spin forever.
        for _ in 0..self.pool_size * 4 {
            if out.len() == self.pool_size {
                break;
            }
            let mut n = format!("+{cc}{prefix}");
            for i in 0..rest {
                let d = if i == 0 {
                    rng.random_range(2..10)
                } else {
                    rng.random_range(0..10)
                };
                n.push(char::from(b'0' + d as u8));
            }
            if !seen.insert(n.clone()) {
                continue;
            }
            let (monthly_base, setup_base) = match kind {
                Kind::Local => (50, 0),
                Kind::TollFree => (200, 100),
            };
            let monthly = Decimal::new(monthly_base + 5 * rng.random_range(0..50), 2);
            let setup = Decimal::new(setup_base + 25 * rng.random_range(0..7), 2);
            let mut features = vec!["voice".to_owned()];
            if kind == Kind::TollFree || rng.random_bool(0.7) {
                features.push("sms".to_owned());
                if rng.random_bool(0.3) {
                    features.push("mms".to_owned());
                }
            }
            out.push(Offer {
                phone_number: n,
                monthly_price: monthly,
                setup_price: setup,
                features,
            });
        }
        out
    }
}

/// FNV-1a: a hash that is stable across Rust versions (std's hasher is not), so seeds stay
/// reproducible.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
