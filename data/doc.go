// Package data reads and writes the tables RALM consumes and produces, and
// turns them into user-model features.
//
// # Files
//
// Inputs are Parquet or Arrow IPC (Feather v2) files; the format is
// detected from the file's magic bytes, never from its name (an Arrow IPC
// stream is accepted too). Writers choose the format from the name: Arrow
// IPC for .arrow, .ipc and .feather, Parquet otherwise (Snappy, dictionary
// encoding, the Arrow schema stored in the metadata, no timestamps or paths,
// so equal input gives byte-identical files). Every output is written to a
// temporary file in the same directory and renamed into place: a failed
// write leaves nothing behind and never a half-written file. Writers take a
// context (checked between record batches: cancelling stops the write and
// removes the temporary file) and stream in bounded batches, one Parquet
// row group each; WithProgress and the readers' Progress option report
// rows done and the rate.
//
// Every Parquet file written here carries a checksum in its footer's
// key-value metadata (key ralm.crc32c): the CRC-32C and length of all bytes
// before the footer, and a CRC-32C of the footer itself. The readers verify
// it where present, in one streaming pass before decoding, and reject a
// damaged file ("checksum mismatch in data region (file corrupt)"); files
// without the key (written by other tools) are read as before. Parquet's
// own page CRCs are not used because arrow/go v15.0.2, the pinned Arrow
// version, can neither write nor verify them (the page header's crc field
// exists, but no writer property sets it). Arrow IPC files carry no
// checksum.
//
// Tables and columns (extra columns are ignored unless noted):
//
//   - clicks (ReadClicks, WriteClicks): user_id and item_id, integer or
//     string (dictionary-encoded or not); ts, an integer number of Unix
//     seconds or an Arrow timestamp of any unit. In memory, ts is Unix
//     nanoseconds.
//   - users and items (ReadTable, WriteTable): a key column (user_id or
//     item_id) plus feature columns, typed by their Arrow type: string,
//     bool or integer → categorical; float → continuous; list of string or
//     integer → multi-valued.
//   - embeddings (ReadEmbeddings, WriteEmbeddings): user_id and embedding,
//     fixed_size_list<float32>[d], one row per user in index order. In
//     Parquet the vector column is written by this package's own column
//     writer (embeddings_parquet.go), the ids without a dictionary.
//
// Files are read in record batches; ids are turned into int32 indices of a
// Vocab as they arrive, so loading N clicks holds about 16 bytes per click
// plus the vocabularies and a fixed amount of reader state.
//
// # Errors
//
// Bad input gives an error, never a panic (panics inside the Arrow library
// are recovered at the reader boundary). Messages name the file, the column
// and, where it applies, the row, counting data rows from 0, for example
//
//	read clicks data/x.parquet: column "user_id" row 17: null id
//
// Missing files keep their fs.ErrNotExist identity (errors.Is works).
//
// # Vocabularies and features
//
// A Vocab maps external ids to dense indices in order of first appearance;
// MarshalBinary gives a stable, versioned, checksummed encoding to save
// with a model. A FeatureSet, built once from training data, defines the
// user model's fields (the clicked items, the items-table columns pooled
// over the clicked items, the users-table columns) and fills Features for
// a user; it is saved with the model too.
package data
