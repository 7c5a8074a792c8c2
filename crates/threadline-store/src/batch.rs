//! The per-event work of appending a batch that needs no database: each event's CBV 2.0 hash
//! ID and the exact ledger body it is stored and chained as. Both engines call
//! [`ledger_bodies`] inside the capture transaction, once the projection has accepted the
//! batch; only the chaining (each hash covers the one before) stays sequential.

use std::collections::HashMap;

use threadline_domain::codes::ProductCode;
use threadline_domain::event::Event;
use threadline_domain::ledger::EntryRef;
use threadline_domain::master::Product;

use crate::epcis::HashContext;

/// Batches smaller than this are done on the calling thread: starting a thread costs about
/// what a few dozen events do.
const PARALLEL_FROM: usize = 128;

/// Gives every event without a hash ID the hash of its EPCIS form (`products` holds at least
/// the products the events name) and returns the ledger body of each, in order.
///
/// A large batch is split across the machine's cores: the capture holds the write lock
/// meanwhile, and each event's hash and body depend on that event alone, so every event gets
/// exactly what it would get alone.
pub fn ledger_bodies(
    events: &mut [Event],
    products: &HashMap<ProductCode, Product>,
) -> Vec<String> {
    let hashing = HashContext::new(products);
    let seal = |chunk: &mut [Event]| -> Vec<String> {
        chunk
            .iter_mut()
            .map(|ev| {
                hashing.stamp(ev);
                EntryRef::Event(ev).body()
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || events.len() < PARALLEL_FROM {
        return seal(events);
    }
    let per_thread = events.len().div_ceil(threads);
    let seal = &seal;
    std::thread::scope(|scope| {
        let mut chunks = events.chunks_mut(per_thread);
        let first = chunks.next();
        let others: Vec<_> = chunks.map(|c| scope.spawn(move || seal(c))).collect();
        let mut bodies = first.map(seal).unwrap_or_default();
        for handle in others {
            match handle.join() {
                Ok(more) => bodies.extend(more),
                // A panic while hashing is a bug; let it surface as it would on one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        bodies
    })
}
