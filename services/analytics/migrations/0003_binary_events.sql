-- Event payloads became encoded proto messages (marketplace/*/v1/
-- events.proto): bytes, with their encoding beside them; rows written
-- before keep their JSON, marked `json`, and are still read.
-- common::events DDL, copied unchanged.
ALTER TABLE parked_events
    MODIFY payload LONGBLOB NOT NULL,
    ADD COLUMN encoding VARCHAR(16) NOT NULL DEFAULT 'json' AFTER payload;
