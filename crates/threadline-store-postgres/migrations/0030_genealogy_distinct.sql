-- The planner's number of distinct genealogy ids, set rather than sampled. A part is built into
-- one parent at a time (a swap adds a row), so child ids are nearly as many as the rows; an
-- assembly holds a handful of parts. ANALYZE's sample meets the few lots that are children of
-- thousands of rows over and over and took the child ids for 47,707 in 14 million rows (10 M
-- events): each id then "had" 300 rows, a level of 100,000 units was planned as 30 million, and
-- the forward trace scanned genealogy and items whole at every level (docs/BENCHMARKS.md).
ALTER TABLE genealogy ALTER COLUMN child_id SET (n_distinct = -0.5);
ALTER TABLE genealogy ALTER COLUMN parent_id SET (n_distinct = -0.4);
