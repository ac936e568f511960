//! Generator: realistic customer change streams (inserts, updates, deletes) with the
//! messiness real pipelines see (duplicates, reordering, late data), posted to NiFi or
//! snowstream, plus an oracle of the SCD1/SCD2 state the warehouse must reach.
