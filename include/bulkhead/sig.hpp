#pragma once
/// \file sig.hpp
/// Malware signatures: ClamAV database formats, a compiled multi-pattern matcher and scanners.
/// See docs/signatures.md.
///
///     bulkhead::sig::database db;
///     load_path("/var/lib/clamav", db);                 // .cvd/.cld/.ndb/.ldb/.hdb/...
///     auto cdb = bulkhead::sig::compiled_db::compile(db); // one read-only matcher
///     bulkhead::sig::scan_state st(*cdb);                 // per thread
///     auto fr = bulkhead::sig::scan_file(st, "/srv/site/index.php");

#include "bulkhead/sig/hash.hpp"
#include "bulkhead/sig/inflate.hpp"
#include "bulkhead/sig/pattern.hpp"
#include "bulkhead/sig/db.hpp"
#include "bulkhead/sig/engine.hpp"
#include "bulkhead/sig/matcher.hpp"
#include "bulkhead/sig/normalize.hpp"
#include "bulkhead/sig/scanner.hpp"
