-- EPCIS master data from capture documents' headers (epcisHeader.epcisMasterData): vocabulary
-- elements kept as the last header that stated them wrote them, apart from Threadline's own
-- master data (they never create or re-parent a location). WD_readPoint / WD_bizLocation walk
-- the children of ReadPoint / BusinessLocation elements. Plain rows written in the capture's
-- transaction; a rebuild leaves them alone.
CREATE TABLE epcis_vocabulary (
    vtype       TEXT COLLATE "C" NOT NULL,   -- vocabulary type URI (urn:epcglobal:epcis:vtype:BusinessLocation)
    key         TEXT COLLATE "C" NOT NULL,   -- the id looked up: canonical Digital Link of a GS1 key, else as written
    id          TEXT NOT NULL,     -- the id as the document wrote it
    attributes  TEXT NOT NULL,     -- JSON list of {"id", "attribute"}, as written
    children    TEXT NOT NULL,     -- JSON list of the children's ids, as written
    recorded_at BIGINT NOT NULL,   -- µs UTC: when the header that last stated it was captured
    PRIMARY KEY (vtype, key)
);
