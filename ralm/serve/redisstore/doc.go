// Package redisstore is the Redis data layer of RALM serving: the state that
// the replicas of `ralm serve` share when they run on one Redis server or a
// Redis Cluster. It holds the user embeddings, each item's latest seeds, the
// click log (a Redis Stream consumed by a consumer group of re-cluster
// workers) and each item's computed state, and announces every change on an
// event stream that replicas follow.
//
// # Key schema
//
// All keys start with a prefix (Config.Prefix, default "ralm"). Keys in
// braces are Redis Cluster hash tags: all keys of one item share one slot,
// so the scripts that update an item touch a single node.
//
//	ralm:meta                    hash   model (model id), gen (generation, integer), dim,
//	                                    prev (the generation before), next_gen (counter),
//	                                    pub, pub_dim (the generation being published)
//	ralm:u:<gen>:<user>          string the user's vector: dim little-endian float32
//	ralm:upserted                set    users upserted (POST /v1/users) that no later
//	                                    model embeds: carried over to each new generation
//	ralm:imported                set    clicks fingerprints of the model folders whose
//	                                    training seeds were appended to the click stream
//	ralm:publishing              string lock of the replica publishing into an empty Redis
//	ralm:{item:<id>}:seeds       zset   seed users; score = arrival order (see below)
//	ralm:{item:<id>}:meta        hash   ver (seed version, bumped per change), created, last (Unix ms)
//	ralm:{item:<id>}:state       hash   gen, model, ver, seeds, built (Unix ms; 0: nothing built),
//	                                    k, cent, wts, glob; a failed build adds fail (reason), fail_ver, fail_seeds,
//	                                    fail_at (Unix ms) — see "Failed builds"
//	ralm:{clicks}:stream         stream the click log (fields below); group "workers"
//	ralm:{sched}:dirty           zset   items to re-cluster; score = due time (Unix ms, 0 = at once)
//	ralm:{sched}:lease           zset   items being re-clustered; score = lease deadline (Unix ms)
//	ralm:{index}:items           set    items that have a state
//	ralm:{events}                stream announcements: t=state|delete|user|model, id, gen
//
// Vectors (cent, wts, glob and user vectors) are little-endian float32
// arrays; cent is k×h row-major.
//
// # The click stream
//
// A click is one entry of ralm:{clicks}:stream with the fields
//
//	item  item id (required)
//	user  user id (required)
//	ts    click time, Unix milliseconds (optional; kept in the log only:
//	      seeds are ordered by entry id, and the item's click times are
//	      the times the workers applied the clicks)
//	op    "delete" to delete the item's seeds up to this entry (optional)
//
// so a click pipeline can bypass HTTP with
//
//	XADD ralm:{clicks}:stream * item 42 user 7 ts 1733000000000
//
// A seed's arrival order is its entry id: score = (ms − 2020-01-01) × 4096 +
// min(seq, 4095), exact in a float64 for about 69 years. An item keeps the
// latest MaxSeeds distinct users; a repeated click of a seed changes nothing
// (ZADD NX), which makes applying an entry twice harmless.
//
// # Durability
//
// Store.Append returns after Redis accepted every XADD. With appendonly yes
// and appendfsync always (what the tests run), Redis writes and fsyncs the
// append-only file before it sends the reply, so an acknowledged click
// survives a crash of redis-server and of the machine. With replicas,
// Config.WaitReplicas makes Append also run WAIT n timeout on the stream's
// node and fail unless n replicas confirmed the write (asynchronous
// replication alone can lose the last writes on a fail-over).
//
// Workers (Worker.Run) read entries through the consumer group, apply them
// to the items' seeds, mark the items dirty and only then XACK them. A
// worker that dies between reading and acknowledging leaves its entries
// pending; another worker claims them with XAUTOCLAIM after
// Config.ClaimIdle and applies them again (harmless, see above), so no
// acknowledged click is left unprocessed.
//
// # Model generations
//
// Store.Publish writes a model's user vectors under a new generation, then
// switches ralm:meta to it, schedules every item and announces the model.
// The previous generation's vectors stay (the one before is deleted), so a
// replica keeps serving the previous model — its vectors and the item
// states built with it, which Mirror keeps aside when newer ones replace
// them (Mirror.StateAt) — until every item has a state of the new one.
//
// Upserted users (Store.UpsertUser, recorded in ralm:upserted) survive a new
// model as in the embedded engine: Publish copies those the new model does
// not embed into its generation when their vector has its dim; those it
// embeds take the model's vector (trained on newer data). An upsert made
// while Publish runs or while replicas still serve the previous generation
// is written into the new generation too.
//
// # Failed builds
//
// When a worker's build of an item fails, it writes a failed state for the
// generation it built with and announces it like a built one: gen and model
// of that generation, and fail (the error, at most 300 bytes, file paths
// cut to their base name), fail_ver and fail_seeds (the seed version and
// count it was given) and fail_at. The other fields keep the state built
// before with the same generation, if there was one (replicas keep scoring
// with it); otherwise they are zero (built = 0, k = 0: nothing of that
// generation to score with). Every replica reports the item failed with the
// reason, and counts it as having a state of the generation, so one item
// whose build keeps failing does not keep the replicas on the previous
// model. The worker does not retry the item until its seeds change; the
// next successful build replaces the whole hash. A worker that cannot build
// with the generation at all (its Builder fails with ErrNoModel: its model
// folder does not hold it) writes no failure: it gives the item back and
// leaves the items to the other workers for WorkerConfig.NoModelRetry.
//
// # Re-clustering once
//
// An item is re-clustered by exactly one worker at a time: a Lua script on
// the {sched} slot moves due items from dirty to lease atomically, skipping
// items already leased. The worker builds the state, writes it with the
// generation of the model it used, removes the lease and announces the state
// on ralm:{events}. A lease that outlives Config.Lease (a dead worker) goes
// back to dirty. Items that cross MinSeeds, and items below it (cheap mean
// only states), are due at once; others ReclusterInterval after their first
// change.
package redisstore
