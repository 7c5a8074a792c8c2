//! Serial-number rules (work in progress).
