//! Putting one read of the account's list together from its pages, and judging whether the pages
//! add up to one list.
//!
//! Talkturo's list is paged by offset, and the account may change between two pages. A record
//! removed before the reader's offset shifts every later record back by one, so one record is
//! skipped: that list is wrong, and is read again. A record added shifts later records forward:
//! one record comes twice, or the new one is not read at all, but no record that was there when
//! the list started is skipped (a record only ever moves forward, and the reader never passes a
//! record ahead of it). So a list during which the count only grew, by no more than this
//! process's own purchases made meanwhile, is complete for every number it held at its start:
//! it is accepted with the repeated records dropped, instead of read again. At 100,000 numbers
//! a list is seconds of pages, and a purchase no longer has to wait for it (or make it fail).
//!
//! The count alone cannot tell a record skipped from a record of ours not read, so the end of a
//! read checks what it holds: the records other than the numbers this process bought meanwhile
//! must be at least as many as the first page announced (every record held at the start came).
//!
//! Anything else (the count dropping, growing by more than this process bought, an id that
//! comes twice for two different numbers, a record held at the start missing) is a list that
//! changed under the reader, and is read again. (A record removed by someone else and, in the
//! same list, one added by someone else, can hide each other from any offset-paged reader, as
//! before; a suddenly shorter list is held by `decide::snapshot`.)

use std::collections::{HashMap, HashSet};

use crate::talkturo::wire::{self, ListPage, NumberRecord};

/// The pages of one read of the list so far.
#[derive(Debug, Default)]
pub(super) struct Paging {
    /// The count the first page announced: the numbers the account held when the list started.
    first: Option<u64>,
    /// The count the latest page announced.
    latest: Option<u64>,
    /// Where the next page starts in Talkturo's list: every record received, repeated or not.
    pub offset: usize,
    pub records: Vec<NumberRecord>,
    /// Where in `records` each id received so far is.
    ids: HashMap<String, usize>,
    /// Pages taken.
    pages: usize,
}

/// What to do after a page.
#[derive(Debug, PartialEq)]
pub(super) enum Next {
    /// Ask for the page at [`Paging::offset`].
    More,
    /// Every page is in: [`Paging::records`] is the list.
    Done,
}

impl Paging {
    /// The highest count a page may still announce (the first page's count and what this
    /// process bought since), if the pages announce one.
    pub fn latest(&self) -> Option<u64> {
        self.latest
    }

    /// Takes one page of `limit` records asked for. `grown` is how many purchases this process
    /// had in flight or sent since the list started: by how much the count may have grown.
    /// `Err` says why the pages do not add up to one list (read it again).
    pub fn take(&mut self, page: ListPage, limit: usize, grown: u64) -> Result<Next, String> {
        let got = page.numbers.len();
        if self.pages == 0 {
            self.first = page.count;
        } else {
            self.judge_count(page.count, grown)?;
        }
        self.latest = page.count;
        self.pages += 1;
        let offset = self.offset;
        for r in page.numbers {
            match self.ids.get(&r.id) {
                None => {
                    self.ids.insert(r.id.clone(), self.records.len());
                    self.records.push(r);
                }
                // The same record again, shifted across a page boundary by a purchase of ours.
                Some(&i) if grown > 0 && self.records[i].phone_number == r.phone_number => {}
                Some(_) => {
                    return Err(format!(
                        "id {} came twice (offset {offset} ignored?)",
                        wire::cut(&r.id, 40)
                    ));
                }
            }
        }
        self.offset += got;
        let more = match self.latest {
            Some(total) => (self.offset as u64) < total && got > 0,
            None => got >= limit,
        };
        Ok(if more { Next::More } else { Next::Done })
    }

    /// A later page's count: as the first page's, or higher by no more than our purchases, and
    /// never lower than the page before.
    fn judge_count(&self, count: Option<u64>, grown: u64) -> Result<(), String> {
        let (first, latest) = (self.first, self.latest);
        let fits = match (first, latest, count) {
            (None, None, None) => true,
            (Some(f), Some(l), Some(c)) => c >= l && c <= f.saturating_add(grown),
            _ => false,
        };
        if fits {
            return Ok(());
        }
        Err(match grown {
            0 => format!("count moved from {first:?} to {count:?}"),
            g => format!(
                "count moved from {first:?} to {count:?}, not explained by the {g} purchases this process made meanwhile"
            ),
        })
    }

    /// The list, once every page is in: every record the account held at the start came (none
    /// skipped), and none the latest count cannot hold. `added`: the numbers whose purchase this
    /// process sent since the list started and that may have taken effect.
    pub fn finish(self, added: &HashSet<String>) -> Result<Vec<NumberRecord>, String> {
        let (Some(first), Some(latest)) = (self.first, self.latest) else {
            return Ok(self.records);
        };
        let n = self.records.len() as u64;
        let held = self
            .records
            .iter()
            .filter(|r| !added.contains(&r.phone_number))
            .count() as u64;
        if held >= first && n <= latest {
            return Ok(self.records);
        }
        Err(if held < first && held < n {
            format!(
                "{held} records held before the list began came (and {} of this process's purchases), {first} announced: one was skipped",
                n - held
            )
        } else if first == latest {
            format!("count says {first}, {n} records came")
        } else {
            format!("count says {first} then {latest}, {n} records came")
        })
    }
}

#[cfg(test)]
mod tests;
