//! The spool under failing disks and damaged segments.

mod damaged_header;
mod encode_off_spool;
mod fsync_faults;
mod half_made_segment;
mod next_seq_faults;
mod parts_faults;
mod pipelined_fsync;
