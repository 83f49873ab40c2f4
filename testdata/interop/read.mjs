// Reads a Parquet file with hyparquet (an independent, pure-JavaScript
// reader) and prints it as JSON for the interop test of cmd/ralm:
//   {"schema": [{name, type, logical_type, repetition_type}, ...],
//    "num_rows": N, "rows": [{column: value, ...}, ...]}
// int64 values are printed as strings (exact), lists as arrays, timestamps
// as ISO strings. Usage: node read.mjs FILE.parquet
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'

const file = await asyncBufferFromFile(process.argv[2])
const meta = await parquetMetadataAsync(file)
// Arrow Go (our writer) marks the schema's root element REPEATED; readers
// built on parquet-mr, Arrow C++ (pyarrow, pandas) and arrow-rs ignore the
// root's repetition, hyparquet 1.33 counts it as a repeated level and fails.
// Treat the root as the others do.
if (meta.schema[0].repetition_type === 'REPEATED') meta.schema[0].repetition_type = 'REQUIRED'
const rows = await parquetReadObjects({ file, metadata: meta })
const plain = v =>
  typeof v === 'bigint' ? v.toString()
    : v instanceof Date ? v.toISOString()
      : ArrayBuffer.isView(v) || Array.isArray(v) ? Array.from(v, plain)
        : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
          : v
const schema = meta.schema.map(s => ({
  name: s.name,
  type: s.type ?? null,
  logical_type: s.logical_type?.type ?? s.converted_type ?? null,
  repetition_type: s.repetition_type ?? null,
}))
process.stdout.write(JSON.stringify({ schema, num_rows: Number(meta.num_rows), rows: rows.map(plain) }))
