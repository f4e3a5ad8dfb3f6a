#pragma once
/// \file sig/matcher.hpp
/// Running a compiled_db over bytes: `scan_state` (per-thread scratch, reused across files)
/// and `stream` (one pass over one buffer, fed whole or in chunks). Matches across chunk
/// boundaries are found: the stream keeps the tail its pending candidates, fixed-offset
/// signatures and EOF-relative signatures still need, and nothing more.

#include "bulkhead/config.hpp"
#include "bulkhead/sig/engine.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Per-pass switches.
struct match_options {
    bool all_matches = false;   ///< keep scanning after the first detection
    bool normalized_any = true; ///< in the normalized pass, also run target-0 signatures
};

/// Scratch for one thread; construct once per thread per database and reuse.
class scan_state {
public:
    explicit scan_state(const compiled_db& db)
        : db_(&db),
          best_end_(db.v_.parts.size(), detail::no_pos),
          chain_start_(db.v_.parts.size(), detail::no_pos),
          counts_(db.v_.ncounters + 1, 0),
          done_(db.v_.entries.size(), 0) {}

    [[nodiscard]] const compiled_db& db() const noexcept { return *db_; }

private:
    friend class stream;
    void reset() noexcept {
        for (auto p : touched_parts_) best_end_[p] = chain_start_[p] = detail::no_pos;
        touched_parts_.clear();
        for (auto c : touched_counts_) counts_[c] = 0;
        touched_counts_.clear();
        for (auto e : touched_done_) done_[e] = 0;
        touched_done_.clear();
    }
    const compiled_db* db_;
    std::vector<std::uint64_t> best_end_, chain_start_;
    std::vector<std::uint32_t> touched_parts_;
    std::vector<std::uint32_t> counts_, touched_counts_;
    std::vector<std::uint8_t> done_;
    std::vector<std::uint32_t> touched_done_;
    std::vector<std::uint32_t> s1_, s2_, e1_, e2_;
};

namespace detail {

/// Runs one part program over a set of positions (sorted, unique, relative to `w`).
/// Forward programs consume bytes at [p, p+n); backward ones the bytes at [p-n, p).
/// Returns false when no position survives or the program is malformed.
inline bool run_prog(std::span<const unsigned char> prog, std::size_t pc, const unsigned char* w,
                     std::uint32_t wlen, std::vector<std::uint32_t>& cur,
                     std::vector<std::uint32_t>& tmp, bool fwd) {
    auto need = [&](std::size_t k) { return prog.size() - pc >= k; };
    auto sort_unique = [&]() {
        std::sort(tmp.begin(), tmp.end());
        tmp.erase(std::unique(tmp.begin(), tmp.end()), tmp.end());
        cur.swap(tmp);
    };
    for (;;) {
        if (!need(1)) return false;
        unsigned char o = prog[pc++];
        std::size_t out = 0;
        switch (o) {
        case op_end: return !cur.empty();
        case op_lit:
        case op_liti: {
            if (!need(1)) return false;
            unsigned n = prog[pc];
            if (!need(1 + std::size_t(n))) return false;
            const unsigned char* b = prog.data() + pc + 1;
            pc += 1 + n;
            for (auto p : cur) {
                if (fwd ? (wlen - p < n) : (p < n)) continue;
                const unsigned char* d = w + (fwd ? p : p - n);
                bool eq = true;
                if (o == op_lit) eq = std::memcmp(d, b, n) == 0;
                else
                    for (unsigned k = 0; k < n && eq; ++k) eq = fold.t[d[k]] == b[k];
                if (eq) cur[out++] = fwd ? p + n : p - n;
            }
            cur.resize(out);
            break;
        }
        case op_mask:
        case op_set: {
            std::size_t len = o == op_mask ? 2 : 32;
            if (!need(len)) return false;
            const unsigned char* a = prog.data() + pc;
            pc += len;
            for (auto p : cur) {
                if (fwd ? (wlen - p < 1) : (p < 1)) continue;
                unsigned char c = w[fwd ? p : p - 1];
                bool okc = o == op_mask ? (c & a[1]) == a[0] : ((a[c >> 3] >> (c & 7)) & 1) != 0;
                if (okc) cur[out++] = fwd ? p + 1 : p - 1;
            }
            cur.resize(out);
            break;
        }
        case op_any: {
            if (!need(2)) return false;
            unsigned n = prog[pc] | unsigned(prog[pc + 1]) << 8;
            pc += 2;
            for (auto p : cur) {
                if (fwd ? (wlen - p < n) : (p < n)) continue;
                cur[out++] = fwd ? p + n : p - n;
            }
            cur.resize(out);
            break;
        }
        case op_gap: {
            if (!need(4)) return false;
            std::uint32_t mn = prog[pc] | unsigned(prog[pc + 1]) << 8;
            std::uint32_t mx = prog[pc + 2] | unsigned(prog[pc + 3]) << 8;
            pc += 4;
            tmp.clear();
            if (fwd) {
                // Sorted input: merge the windows [p+mn, p+mx] without duplicates.
                std::uint64_t next = 0;
                for (auto p : cur) {
                    std::uint64_t lo = std::uint64_t(p) + mn, hi = std::min<std::uint64_t>(std::uint64_t(p) + mx, wlen);
                    if (lo < next) lo = next;
                    for (std::uint64_t q = lo; q <= hi; ++q) tmp.push_back(static_cast<std::uint32_t>(q));
                    if (hi + 1 > next) next = hi + 1;
                }
                cur.swap(tmp);
            } else {
                for (auto p : cur) {
                    if (p < mn) continue;
                    std::uint32_t hi = p - mn, lo = p >= mx ? p - mx : 0;
                    for (std::uint32_t q = lo; q <= hi; ++q) tmp.push_back(q);
                }
                sort_unique();
            }
            break;
        }
        case op_alt:
        case op_alti:
        case op_nalt: {
            if (!need(1)) return false;
            unsigned cnt = prog[pc++];
            std::size_t start = pc;
            // validate the alternatives' extent first
            for (unsigned k = 0; k < cnt; ++k) {
                if (!need(1)) return false;
                unsigned l = prog[pc];
                if (!need(1 + std::size_t(l))) return false;
                pc += 1 + l;
            }
            tmp.clear();
            for (auto p : cur) {
                std::size_t q = start;
                bool any_eq = false;
                unsigned nl = 0;
                for (unsigned k = 0; k < cnt; ++k) {
                    unsigned l = prog[q];
                    const unsigned char* b = prog.data() + q + 1;
                    q += 1 + l;
                    nl = l;
                    if (fwd ? (wlen - p < l) : (p < l)) continue;
                    const unsigned char* d = w + (fwd ? p : p - l);
                    bool eq = true;
                    if (o == op_alti)
                        for (unsigned z = 0; z < l && eq; ++z) eq = fold.t[d[z]] == b[z];
                    else
                        eq = std::memcmp(d, b, l) == 0;
                    if (o == op_nalt) {
                        if (eq) any_eq = true;
                    } else if (eq) {
                        tmp.push_back(fwd ? p + l : p - l);
                    }
                }
                if (o == op_nalt && !any_eq && cnt && !(fwd ? (wlen - p < nl) : (p < nl)))
                    tmp.push_back(fwd ? p + nl : p - nl);
            }
            sort_unique();
            break;
        }
        default: return false;
        }
        if (cur.empty()) return false;
    }
}

struct candidate {
    std::uint64_t anchor;
    std::uint32_t part;
    bool operator<(const candidate& o) const noexcept {
        return anchor != o.anchor ? anchor < o.anchor : part < o.part;
    }
};

} // namespace detail

/// One pass over one buffer. Feed it whole (`scan`) or in chunks (`feed` ... `finish`).
class stream {
public:
    /// `total_size`: the buffer's full size when known up front (needed in streaming mode for
    /// multi-part signatures with EOF-relative offsets); `file_size` feeds .ldb FileSize.
    stream(scan_state& st, std::uint8_t pass, const match_options& opt = {},
           std::optional<std::uint64_t> total_size = std::nullopt,
           std::optional<std::uint64_t> file_size = std::nullopt)
        : st_(st), db_(*st.db_), v_(db_.v_), pass_(pass), opt_(opt), size_(total_size),
          file_size_(file_size), next_p_(v_.tiers.size(), 0) {
        st_.reset();
    }

    /// Scans a complete buffer in place (no copy).
    void scan(std::span<const unsigned char> all) {
        size_ = all.size();
        process(all.data(), all.size(), 0, true);
        end_pass(all.size());
    }
    /// Feeds the next chunk.
    void feed(std::span<const unsigned char> chunk) {
        if (stop_ || finished_) return;
        buf_.insert(buf_.end(), chunk.begin(), chunk.end());
        process(buf_.data(), buf_.size(), base_, false);
        trim();
    }
    /// Ends the stream: EOF-relative signatures and logical signatures are decided here.
    void finish() {
        if (finished_) return;
        std::uint64_t total = base_ + buf_.size();
        if (!size_) size_ = total;
        if (!stop_) process(buf_.data(), buf_.size(), base_, true);
        end_pass(total);
    }

    [[nodiscard]] const std::vector<match>& matches() const noexcept { return matches_; }
    [[nodiscard]] std::vector<match>& matches() noexcept { return matches_; }
    /// Signatures that could not be decided (EOF-relative while streaming without a size, or
    /// an EOF window larger than the kept tail).
    [[nodiscard]] std::size_t undecided() const noexcept { return undecided_; }
    [[nodiscard]] bool stopped() const noexcept { return stop_; }
    /// Bytes held back between chunks (for tests of the bound).
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }

private:
    using part_rec = detail::part_rec;
    using entry_rec = detail::entry_rec;

    [[nodiscard]] bool entry_active(const entry_rec& e) const noexcept {
        if (!(e.pass_mask & pass_)) return false;
        if (pass_ == pass_normalized && !(e.flags & 2) && !opt_.normalized_any) return false;
        return true;
    }

    void fire(std::uint32_t eid, std::uint64_t off) {
        const auto& e = v_.entries[eid];
        if (e.owner == detail::no_owner) {
            if (st_.done_[eid]) return;
            st_.done_[eid] = 1;
            st_.touched_done_.push_back(eid);
            matches_.push_back({db_.name(e.name), off, pass_});
            if (!opt_.all_matches) stop_ = true;
        } else {
            if (st_.counts_[e.counter]++ == 0) st_.touched_counts_.push_back(e.counter);
        }
    }

    /// Verifies a candidate; the window holds absolute bytes [wbase, wbase+wlen).
    void verify(const detail::candidate& c, const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        const part_rec& P = v_.parts[c.part];
        const entry_rec& E = v_.entries[P.entry];
        if (!entry_active(E)) return;
        if (E.owner == detail::no_owner && st_.done_[P.entry]) return;
        std::uint32_t pidx = c.part - E.first_part;
        if (pidx > 0 && st_.best_end_[c.part - 1] == detail::no_pos) return;
        // A chain part can only matter if it could end before the best end seen so far: every
        // end of this candidate is >= its anchor. This keeps frequent anchors of '*'-joined
        // parts from being re-verified once the chain has moved on.
        if (pidx + 1u < E.nparts && c.anchor >= st_.best_end_[c.part]) return;
        if (c.anchor < wbase || c.anchor > wbase + wlen) return;
        auto wl = static_cast<std::uint32_t>(wlen);
        auto a = static_cast<std::uint32_t>(c.anchor - wbase);
        auto& ends = st_.e1_;
        ends.assign(1, a);
        if (!detail::run_prog(v_.prog, P.right, w, wl, ends, st_.e2_, true)) return;
        auto& starts = st_.s1_;
        starts.assign(1, a);
        if (!detail::run_prog(v_.prog, P.left, w, wl, starts, st_.s2_, false)) return;
        bool full = E.flags & 1;
        bool last = pidx + 1u == E.nparts;
        // filter starts
        std::uint64_t lo = 0, hi = detail::no_pos;
        if (pidx == 0) {
            if (E.off_kind == offset_spec::absolute) {
                lo = E.off_n;
                hi = E.off_n + E.off_shift;
            } else if (E.off_kind == offset_spec::eof_minus) {
                if (!size_) { ++undecided_; return; }
                if (E.off_n > *size_) return;
                lo = *size_ - E.off_n;
                hi = lo + E.off_shift;
            }
        } else {
            lo = st_.best_end_[c.part - 1] + P.min_gap;
        }
        std::uint64_t smin = detail::no_pos;
        if (P.lead != detail::no_lead) {
            // offsets apply to the HEXSIG after `aa[x-y]`; then the lead must match before it
            std::size_t k = 0;
            for (auto s : starts)
                if (wbase + s >= lo && wbase + s <= hi) starts[k++] = s;
            starts.resize(k);
            if (starts.empty() || !detail::run_prog(v_.prog, P.lead, w, wl, starts, st_.s2_, false)) return;
            lo = 0;
            hi = detail::no_pos;
        }
        for (auto s : starts) {
            std::uint64_t abs = wbase + s;
            if (abs < lo || abs > hi) continue;
            if (full && pidx == 0 && s > 0 && detail::is_alnum(w[s - 1])) continue;
            smin = abs;
            break;
        }
        if (smin == detail::no_pos) return;
        std::uint64_t emin = detail::no_pos;
        for (auto e : ends) {
            if (full && last) {
                if (e < wl && detail::is_alnum(w[e])) continue;
                if (e == wl && !final) continue;
            }
            emin = wbase + e;
            break;
        }
        if (emin == detail::no_pos) return;
        if (!last) {
            if (st_.best_end_[c.part] == detail::no_pos) st_.touched_parts_.push_back(c.part);
            if (emin < st_.best_end_[c.part]) st_.best_end_[c.part] = emin;
            if (pidx == 0 && st_.chain_start_[c.part] == detail::no_pos) st_.chain_start_[c.part] = smin;
            return;
        }
        fire(P.entry, pidx == 0 ? smin : st_.chain_start_[E.first_part]);
    }

    void scan_tier(std::size_t t, const unsigned char* w, std::uint64_t wbase, std::uint64_t end,
                   std::uint64_t blk_end) {
        const auto& T = v_.tiers[t];
        std::uint64_t p = next_p_[t];
        if (end < T.gram) return;
        std::uint64_t lim = std::min<std::uint64_t>(blk_end, end - T.gram + 1);
        const std::uint64_t* bm = v_.bitmaps.data() + T.bitmap_off;
        const std::uint32_t* bk = v_.buckets.data() + T.bucket_off;
        const detail::gram_entry* ge = v_.grams.data() + T.entries_off;
        const unsigned S = T.stride, G = T.gram, bits = T.bits_log2, tb = T.table_log2;
        const bool f = T.fold;
        const unsigned char* prog = v_.prog.data();
        auto hit = [&](std::uint64_t q, std::uint32_t g) {
            std::uint32_t hb = detail::hash32b(g, tb);
            for (std::uint32_t j = bk[hb]; j < bk[hb + 1]; ++j) {
                if (ge[j].gram != g) continue;
                std::uint32_t part = ge[j].part_k >> 3, k = ge[j].part_k & 7;
                const auto& P = v_.parts[part];
                std::uint64_t back = k + P.gram_delta;
                if (q < back) continue;
                std::uint64_t a = q - back;
                // Cheap reject: the anchor literal (the right program's first op) in place.
                const unsigned char* rp = prog + P.right;
                if (a >= wbase && (rp[0] == detail::op_lit || rp[0] == detail::op_liti) &&
                    a + rp[1] <= end) {
                    const unsigned char* d = w + (a - wbase);
                    if (rp[0] == detail::op_lit) {
                        if (std::memcmp(d, rp + 2, rp[1]) != 0) continue;
                    } else {
                        bool eq = true;
                        for (unsigned z = 0; z < rp[1] && eq; ++z) eq = detail::fold.t[d[z]] == rp[2 + z];
                        if (!eq) continue;
                    }
                }
                if (v_.entries[P.entry].nparts == 1) single_.push_back({a, part});
                else cands_.push_back({a, part});
            }
        };
        const std::uint64_t* bm2 = v_.bitmaps.data() + T.bitmap2_off;
        if (G == 4 && !f) {
            const unsigned sh = 32 - bits;
            for (; p < lim; p += S) {
                std::uint32_t g;
                std::memcpy(&g, w + (p - wbase), 4);
                std::uint32_t h = (g * 0x9e3779b1u) >> sh;
                if (!((bm[h >> 6] >> (h & 63)) & 1)) continue;
                std::uint32_t h2 = (g * 0xc2b2ae35u) >> sh;
                if ((bm2[h2 >> 6] >> (h2 & 63)) & 1) hit(p, g);
            }
        } else {
            for (; p < lim; p += S) {
                std::uint32_t g = detail::load_gram(w + (p - wbase), G, f);
                std::uint32_t h = G == 4 ? detail::hash32(g, bits) : g;
                if (!((bm[h >> 6] >> (h & 63)) & 1)) continue;
                if (G == 4) {
                    std::uint32_t h2 = detail::hash32c(g, bits);
                    if (!((bm2[h2 >> 6] >> (h2 & 63)) & 1)) continue;
                }
                hit(p, g);
            }
        }
        next_p_[t] = p;
    }

    [[nodiscard]] bool verifiable(const detail::candidate& c, std::uint64_t end, bool final) const noexcept {
        if (final) return true;
        return c.anchor + v_.parts[c.part].right_max + 1 <= end;
    }

    void drain(const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        std::uint64_t end = wbase + wlen;
        while (pend_head_ < pending_.size() && !stop_) {
            auto& c = pending_[pend_head_];
            if (!verifiable(c, end, final)) break;
            verify(c, w, wlen, wbase, final);
            ++pend_head_;
        }
        if (pend_head_ == pending_.size()) {
            pending_.clear();
            pend_head_ = 0;
        }
    }

    void release(std::uint64_t limit) {
        if (cands_.empty()) return;
        std::sort(cands_.begin(), cands_.end());
        std::size_t n = 0;
        while (n < cands_.size() && cands_[n].anchor < limit) ++n;
        pending_.insert(pending_.end(), cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n));
        cands_.erase(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n));
    }

    void check_direct(std::uint32_t eid, const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        const auto& E = v_.entries[eid];
        if (!entry_active(E) || (E.owner == detail::no_owner && st_.done_[eid])) return;
        const auto& P = v_.parts[E.first_part];
        std::uint64_t s0;
        if (E.off_kind == offset_spec::absolute) {
            s0 = E.off_n;
        } else {
            if (!size_ || E.off_n > *size_) return;
            s0 = *size_ - E.off_n;
        }
        std::uint64_t a0 = s0 + P.left_min, a1 = s0 + E.off_shift + P.left_max;
        std::uint64_t end = wbase + wlen;
        std::uint64_t need_from = s0 > 0 ? s0 - 1 : 0; // one byte before, for ::f
        if (need_from < wbase) { ++undecided_; return; }
        for (std::uint64_t a = a0; a <= a1 && a <= end && !stop_; ++a) {
            if (E.owner == detail::no_owner && st_.done_[eid]) return;
            verify({a, E.first_part}, w, wlen, wbase, final);
        }
    }

    void process(const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        std::uint64_t end = wbase + wlen;
        drain(w, wlen, wbase, final);
        if (!v_.tiers.empty()) {
            std::uint64_t cur = *std::min_element(next_p_.begin(), next_p_.end());
            while (!stop_) {
                std::uint64_t blk_end = std::min<std::uint64_t>(cur + 65536, end);
                for (std::size_t t = 0; t < v_.tiers.size(); ++t) scan_tier(t, w, wbase, end, blk_end);
                bool last = blk_end >= end;
                release(final && last ? detail::no_pos : (blk_end > v_.max_gd ? blk_end - v_.max_gd : 0));
                drain(w, wlen, wbase, final);
                // Single-part candidates need no ordering: verify now, or hold until their
                // bytes have arrived.
                std::size_t keep_n = 0;
                for (auto& c : single_) {
                    if (stop_) break;
                    if (verifiable(c, end, final)) verify(c, w, wlen, wbase, final);
                    else single_[keep_n++] = c;
                }
                single_.resize(stop_ ? 0 : keep_n);
                if (last) break;
                cur = blk_end;
            }
        }
        // Fixed absolute offsets, in offset order, once their bytes are here.
        while (next_direct_ < v_.direct_abs.size() && !stop_) {
            auto eid = v_.direct_abs[next_direct_];
            const auto& E = v_.entries[eid];
            const auto& P = v_.parts[E.first_part];
            if (!final && E.off_n + E.off_shift + P.left_max + P.right_max + 1 > end) break;
            check_direct(eid, w, wlen, wbase, final);
            ++next_direct_;
        }
        if (final) {
            for (auto eid : v_.direct_eof) {
                if (stop_) break;
                check_direct(eid, w, wlen, wbase, true);
            }
        }
    }

    void trim() {
        std::uint64_t end = base_ + buf_.size();
        std::uint64_t keep = end;
        for (auto p : next_p_) keep = std::min(keep, p);
        keep = keep > v_.max_gd + v_.max_left + 1 ? keep - v_.max_gd - v_.max_left - 1 : 0;
        if (pend_head_ < pending_.size()) {
            std::uint64_t a = pending_[pend_head_].anchor;
            keep = std::min(keep, a > v_.max_left + 1 ? a - v_.max_left - 1 : 0);
        }
        for (auto* cv : {&cands_, &single_})
            for (auto& c : *cv) keep = std::min(keep, c.anchor > v_.max_left + 1 ? c.anchor - v_.max_left - 1 : 0);
        if (next_direct_ < v_.direct_abs.size()) {
            std::uint64_t n = v_.entries[v_.direct_abs[next_direct_]].off_n;
            keep = std::min(keep, n > 0 ? n - 1 : 0);
        }
        if (!v_.direct_eof.empty()) {
            std::uint64_t k = std::min<std::uint64_t>(v_.eof_keep, std::uint64_t(64) << 20);
            keep = std::min(keep, end > k ? end - k : 0);
        }
        if (keep > base_) {
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(keep - base_));
            base_ = keep;
        }
    }

    void end_pass(std::uint64_t total) {
        finished_ = true;
        if (stop_ && !opt_.all_matches) return;
        // Logical signatures: those with a counted subsignature, and those true at zero.
        std::vector<std::uint32_t> ls;
        for (auto c : st_.touched_counts_) {
            // counters are laid out per lsig; find the owner by binary search on first_counter
            auto it = std::upper_bound(v_.lsigs.begin(), v_.lsigs.end(), c,
                                       [](std::uint32_t x, const detail::lsig_rec& l) { return x < l.first_counter; });
            if (it != v_.lsigs.begin()) ls.push_back(static_cast<std::uint32_t>(it - v_.lsigs.begin() - 1));
        }
        ls.insert(ls.end(), v_.zero_lsigs.begin(), v_.zero_lsigs.end());
        std::sort(ls.begin(), ls.end());
        ls.erase(std::unique(ls.begin(), ls.end()), ls.end());
        std::uint64_t fsz = file_size_ ? *file_size_ : total;
        for (auto li : ls) {
            const auto& L = v_.lsigs[li];
            bool t7 = L.target == 7;
            if (pass_ == pass_raw && t7) continue;
            if (pass_ == pass_normalized && !t7 && !opt_.normalized_any) continue;
            if (L.has_fsize && (fsz < L.fsize_min || fsz > L.fsize_max)) continue;
            if (detail::eval_expr(v_.expr.subspan(L.expr_off, L.expr_len), st_.counts_.data() + L.first_counter)) {
                matches_.push_back({db_.name(L.name), 0, pass_});
                if (!opt_.all_matches) return;
            }
        }
    }

    scan_state& st_;
    const compiled_db& db_;
    const compiled_db::views& v_;
    std::uint8_t pass_;
    match_options opt_;
    std::optional<std::uint64_t> size_, file_size_;
    std::vector<std::uint64_t> next_p_;
    std::vector<detail::candidate> cands_, pending_, single_;
    std::size_t pend_head_ = 0;
    std::size_t next_direct_ = 0;
    std::vector<unsigned char> buf_;
    std::uint64_t base_ = 0;
    std::vector<match> matches_;
    std::size_t undecided_ = 0;
    bool stop_ = false;
    bool finished_ = false;
};

} // namespace sig
BULKHEAD_NAMESPACE_END
