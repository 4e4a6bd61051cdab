package archive

// undoContentColumns takes a catalog back from schema gmailSchema to the
// one before, for tests of older catalogs.
const undoContentColumns = `DROP INDEX messages_content; DROP INDEX messages_gm_msgid;
ALTER TABLE messages DROP COLUMN gm_msgid; ALTER TABLE messages DROP COLUMN gm_labels;
ALTER TABLE staged DROP COLUMN gm_msgid; ALTER TABLE staged DROP COLUMN gm_labels`
