#pragma once
/// \file ns/netlink.hpp
/// A small rtnetlink client of our own (no iproute2 at run time): bring links up, create and
/// delete veth pairs, move a link into another network namespace, add IPv4/IPv6 addresses and
/// routes. `nl_message` builds requests; `parse_nl_replies` / `parse_rtattrs` read replies as
/// untrusted bytes (bounds-checked, never throw).

#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
// glibc's <net/if.h> must come first: it tells <linux/if.h> (via libc-compat) not to define
// the same names again, so a translation unit may include both in any order afterwards.
#include <net/if.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns {

/// An IPv4 or IPv6 address with a prefix length ("10.0.0.1/24", "fd00::1/64").
struct ip_prefix {
    int family = AF_INET;              ///< AF_INET or AF_INET6
    std::array<std::uint8_t, 16> addr{}; ///< network byte order; 4 bytes used for IPv4
    std::uint8_t prefix = 32;

    [[nodiscard]] std::size_t addr_len() const noexcept { return family == AF_INET ? 4 : 16; }

    /// Parses "ADDR[/PREFIX]"; without a prefix: /32 or /128.
    [[nodiscard]] static result<ip_prefix> parse(std::string_view s) {
        ip_prefix p;
        auto slash = s.find('/');
        std::string a(s.substr(0, slash));
        if (::inet_pton(AF_INET, a.c_str(), p.addr.data()) == 1) {
            p.family = AF_INET;
            p.prefix = 32;
        } else if (::inet_pton(AF_INET6, a.c_str(), p.addr.data()) == 1) {
            p.family = AF_INET6;
            p.prefix = 128;
        } else {
            return error(errc::parse_error, "ip address").value(s).note("not an IPv4 or IPv6 address");
        }
        if (slash != std::string_view::npos) {
            auto n = bulkhead::detail::parse_int<unsigned>(s.substr(slash + 1));
            if (!n || *n > (p.family == AF_INET ? 32u : 128u))
                return error(errc::parse_error, "ip address").value(s).at_offset(slash + 1).note("bad prefix length");
            p.prefix = static_cast<std::uint8_t>(*n);
        }
        return p;
    }

    [[nodiscard]] std::string to_string() const {
        char buf[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(family, addr.data(), buf, sizeof buf);
        return std::string(buf) + "/" + std::to_string(prefix);
    }
};

/// Builds one netlink request: header, a fixed family struct, attributes (nested too).
class nl_message {
public:
    nl_message(std::uint16_t type, std::uint16_t flags) {
        buf_.resize(NLMSG_HDRLEN);
        auto* h = hdr();
        h->nlmsg_len = NLMSG_HDRLEN;
        h->nlmsg_type = type;
        h->nlmsg_flags = flags;
    }

    /// Appends a fixed struct (ifinfomsg, ifaddrmsg, rtmsg), padded to 4 bytes.
    template <class T>
    nl_message& put(const T& v) {
        append(&v, sizeof v);
        return *this;
    }

    nl_message& attr(std::uint16_t type, const void* data, std::size_t len) {
        rtattr a{};
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        a.rta_type = type;
        std::size_t start = buf_.size();
        buf_.resize(start + RTA_SPACE(len));
        std::memcpy(buf_.data() + start, &a, sizeof a);
        if (len) std::memcpy(buf_.data() + start + RTA_LENGTH(0), data, len);
        sync_len();
        return *this;
    }
    nl_message& attr_u32(std::uint16_t type, std::uint32_t v) { return attr(type, &v, sizeof v); }
    nl_message& attr_str(std::uint16_t type, std::string_view s) {
        std::string z(s);
        return attr(type, z.c_str(), z.size() + 1);
    }

    /// Opens a nested attribute; close it with `end_nest(token)`.
    [[nodiscard]] std::size_t begin_nest(std::uint16_t type) {
        std::size_t at = buf_.size();
        attr(type, nullptr, 0);
        return at;
    }
    nl_message& end_nest(std::size_t at) {
        rtattr a{};
        std::memcpy(&a, buf_.data() + at, sizeof a);
        a.rta_len = static_cast<unsigned short>(buf_.size() - at);
        std::memcpy(buf_.data() + at, &a, sizeof a);
        return *this;
    }

    void set_seq(std::uint32_t seq) noexcept { hdr()->nlmsg_seq = seq; }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return buf_; }

private:
    nlmsghdr* hdr() noexcept { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
    void append(const void* p, std::size_t n) {
        std::size_t start = buf_.size();
        buf_.resize(start + NLMSG_ALIGN(n));
        std::memcpy(buf_.data() + start, p, n);
        sync_len();
    }
    void sync_len() noexcept { hdr()->nlmsg_len = static_cast<std::uint32_t>(buf_.size()); }
    std::vector<std::uint8_t> buf_;
};

/// One message of a netlink reply.
struct nl_reply {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint32_t seq = 0;
    std::span<const std::uint8_t> payload; ///< after the netlink header
    int error = 0;        ///< for NLMSG_ERROR: the positive errno (0 = ack)
    std::string ext_msg;  ///< extended ack text (NLMSGERR_ATTR_MSG), if any
};

/// One attribute: type (nested flag masked off) and payload.
struct nl_attr {
    std::uint16_t type = 0;
    std::span<const std::uint8_t> data;
};

/// Splits `data` into rtattrs; errc::parse_error with the offset on a malformed one.
[[nodiscard]] inline result<std::vector<nl_attr>> parse_rtattrs(std::span<const std::uint8_t> data,
                                                               std::size_t max_attrs = 4096) {
    std::vector<nl_attr> out;
    std::size_t off = 0;
    while (off < data.size()) {
        if (data.size() - off < sizeof(rtattr))
            return error(errc::truncated, "netlink attribute").at_offset(off);
        rtattr a{};
        std::memcpy(&a, data.data() + off, sizeof a);
        if (a.rta_len < sizeof(rtattr) || a.rta_len > data.size() - off)
            return error(errc::parse_error, "netlink attribute").at_offset(off).note("bad length");
        if (out.size() >= max_attrs) return error(errc::too_large, "netlink attribute").at_offset(off);
        out.push_back({static_cast<std::uint16_t>(a.rta_type & NLA_TYPE_MASK),
                       data.subspan(off + sizeof(rtattr), a.rta_len - sizeof(rtattr))});
        std::size_t step = RTA_ALIGN(a.rta_len);
        if (step > data.size() - off) break; // last attribute without padding
        off += step;
    }
    return out;
}

/// Splits a datagram of netlink messages. NLMSG_ERROR replies get `error` (positive errno)
/// and the extended-ack message when present. Malformed input gives an error with its offset.
[[nodiscard]] inline result<std::vector<nl_reply>> parse_nl_replies(std::span<const std::uint8_t> data) {
    std::vector<nl_reply> out;
    std::size_t off = 0;
    while (off < data.size()) {
        if (data.size() - off < sizeof(nlmsghdr))
            return error(errc::truncated, "netlink reply").at_offset(off);
        nlmsghdr h{};
        std::memcpy(&h, data.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.size() - off)
            return error(errc::parse_error, "netlink reply").at_offset(off).note("bad message length");
        nl_reply r;
        r.type = h.nlmsg_type;
        r.flags = h.nlmsg_flags;
        r.seq = h.nlmsg_seq;
        r.payload = data.subspan(off + NLMSG_HDRLEN > off + h.nlmsg_len ? off + h.nlmsg_len : off + NLMSG_HDRLEN,
                                 h.nlmsg_len >= NLMSG_HDRLEN ? h.nlmsg_len - NLMSG_HDRLEN : 0);
        if (h.nlmsg_type == NLMSG_ERROR) {
            if (r.payload.size() < sizeof(int))
                return error(errc::truncated, "netlink error reply").at_offset(off);
            int e = 0;
            std::memcpy(&e, r.payload.data(), sizeof e);
            if (e > 0 || e < -4095)
                return error(errc::protocol_error, "netlink error reply").at_offset(off).note("errno out of range");
            r.error = -e;
            if (h.nlmsg_flags & NLM_F_ACK_TLVS) {
                // struct nlmsgerr = error + the request's header (+ its payload unless capped).
                std::size_t skip = sizeof(int) + sizeof(nlmsghdr);
                if (!(h.nlmsg_flags & NLM_F_CAPPED) && r.payload.size() >= skip) {
                    nlmsghdr orig{};
                    std::memcpy(&orig, r.payload.data() + sizeof(int), sizeof orig);
                    if (orig.nlmsg_len >= sizeof(nlmsghdr)) skip = sizeof(int) + NLMSG_ALIGN(orig.nlmsg_len);
                }
                if (skip <= r.payload.size()) {
                    auto attrs = parse_rtattrs(r.payload.subspan(skip));
                    if (attrs) {
                        for (const auto& a : *attrs)
                            if (a.type == NLMSGERR_ATTR_MSG && !a.data.empty()) {
                                std::size_t n = 0;
                                while (n < a.data.size() && a.data[n] != 0) ++n;
                                r.ext_msg.assign(reinterpret_cast<const char*>(a.data.data()), n);
                            }
                    }
                }
            }
        }
        out.push_back(std::move(r));
        std::size_t step = NLMSG_ALIGN(h.nlmsg_len);
        if (step > data.size() - off) break;
        off += step;
    }
    return out;
}

/// An NETLINK_ROUTE socket bound to the network namespace it was opened in.
class rtnl {
public:
    /// Opens a socket in the caller's network namespace.
    [[nodiscard]] static result<rtnl> open() {
        int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) return error::from_errno("netlink socket");
        rtnl r;
        r.fd_.reset(fd);
        int one = 1;
        (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
        (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return error::from_errno("netlink bind");
        return r;
    }

    /// Opens a socket inside the network namespace `netns_fd` refers to: this thread enters it
    /// for the socket() call only and returns to its own namespace.
    [[nodiscard]] static result<rtnl> open_in(int netns_fd) {
        int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0) return error::from_errno("open own netns");
        unique_fd own(self);
        if (::setns(netns_fd, CLONE_NEWNET) < 0) return error::from_errno("setns net");
        auto r = open();
        if (::setns(own.get(), CLONE_NEWNET) < 0) {
            // This thread is stranded in the other namespace: never carry on silently.
            return error::from_errno("setns back to own netns");
        }
        return r;
    }

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    /// Sends `m` with NLM_F_ACK and waits for the kernel's answer; for dumps and GET requests
    /// `on_reply` sees each data message.
    template <class F>
    [[nodiscard]] result<void> request(nl_message& m, const char* op, F&& on_reply) {
        std::uint32_t seq = ++seq_;
        m.set_seq(seq);
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        auto b = m.bytes();
        for (;;) {
            ssize_t n = ::sendto(fd_.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
            if (n >= 0) break;
            if (errno != EINTR) return error::from_errno(op);
        }
        std::vector<std::uint8_t> buf(65536);
        for (;;) {
            ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return error::from_errno(op);
            }
            auto replies = parse_nl_replies(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
            if (!replies) return std::move(replies).error();
            for (auto& r : *replies) {
                if (r.seq != seq) continue;
                if (r.type == NLMSG_ERROR) {
                    if (r.error == 0) return {};
                    error e = error::from_errno(op, r.error);
                    if (!r.ext_msg.empty()) e.note(r.ext_msg);
                    return e;
                }
                if (r.type == NLMSG_DONE) return {};
                if (auto rr = on_reply(r); !rr) return rr;
            }
        }
    }
    [[nodiscard]] result<void> request(nl_message& m, const char* op) {
        return request(m, op, [](const nl_reply&) -> result<void> { return {}; });
    }

    /// The index of link `name` in this socket's namespace.
    [[nodiscard]] result<int> link_index(std::string_view name) {
        nl_message m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        m.put(ifi).attr_str(IFLA_IFNAME, name);
        int index = 0;
        auto r = request(m, "netlink get link", [&](const nl_reply& rep) -> result<void> {
            if (rep.type == RTM_NEWLINK && rep.payload.size() >= sizeof(ifinfomsg)) {
                ifinfomsg got{};
                std::memcpy(&got, rep.payload.data(), sizeof got);
                index = got.ifi_index;
            }
            return {};
        });
        if (!r) return std::move(r.error().subject(std::string(name)));
        if (index <= 0) return error(errc::not_found, "netlink get link").subject(std::string(name));
        return index;
    }

    /// Sets link `index` up (or down).
    [[nodiscard]] result<void> set_link_up(int index, bool up = true) {
        nl_message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = index;
        ifi.ifi_flags = up ? IFF_UP : 0;
        ifi.ifi_change = IFF_UP;
        m.put(ifi);
        return request(m, "netlink set link up");
    }
    [[nodiscard]] result<void> set_link_up(std::string_view name, bool up = true) {
        BULKHEAD_TRY_ASSIGN(int idx, link_index(name));
        return set_link_up(idx, up);
    }

    /// Creates a veth pair `name` <-> `peer`; with `peer_netns_fd` >= 0 the peer is created
    /// directly inside that network namespace.
    [[nodiscard]] result<void> create_veth(std::string_view name, std::string_view peer,
                                           int peer_netns_fd = -1) {
        if (name.empty() || name.size() >= IFNAMSIZ || peer.empty() || peer.size() >= IFNAMSIZ)
            return error(errc::invalid_argument, "create veth").subject(std::string(name) + "/" + std::string(peer)).note("interface names are 1-15 bytes");
        auto m = build_create_veth(name, peer, peer_netns_fd);
        auto r = request(m, "netlink create veth");
        if (!r) return std::move(r.error().subject(std::string(name)));
        return {};
    }

    /// The RTM_NEWLINK request `create_veth` sends (exposed for tests).
    [[nodiscard]] static nl_message build_create_veth(std::string_view name, std::string_view peer,
                                                      int peer_netns_fd = -1) {
        nl_message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        m.put(ifi).attr_str(IFLA_IFNAME, name);
        auto li = m.begin_nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        auto data = m.begin_nest(IFLA_INFO_DATA);
        auto p = m.begin_nest(VETH_INFO_PEER);
        ifinfomsg pi{};
        pi.ifi_family = AF_UNSPEC;
        m.put(pi).attr_str(IFLA_IFNAME, peer);
        if (peer_netns_fd >= 0) m.attr_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns_fd));
        m.end_nest(p);
        m.end_nest(data);
        m.end_nest(li);
        return m;
    }

    /// Moves link `name` into the network namespace `netns_fd` (optionally renaming it).
    [[nodiscard]] result<void> move_link(std::string_view name, int netns_fd, std::string_view new_name = {}) {
        BULKHEAD_TRY_ASSIGN(int idx, link_index(name));
        nl_message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = idx;
        m.put(ifi).attr_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(netns_fd));
        if (!new_name.empty()) m.attr_str(IFLA_IFNAME, new_name);
        auto r = request(m, "netlink move link");
        if (!r) return std::move(r.error().subject(std::string(name)));
        return {};
    }

    /// Moves link `name` into the network namespace of process `pid`.
    [[nodiscard]] result<void> move_link_to_pid(std::string_view name, pid_t pid) {
        BULKHEAD_TRY_ASSIGN(int idx, link_index(name));
        nl_message m(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = idx;
        m.put(ifi).attr_u32(IFLA_NET_NS_PID, static_cast<std::uint32_t>(pid));
        auto r = request(m, "netlink move link");
        if (!r) return std::move(r.error().subject(std::string(name)));
        return {};
    }

    /// Deletes link `name` (both ends, for a veth).
    [[nodiscard]] result<void> delete_link(std::string_view name) {
        BULKHEAD_TRY_ASSIGN(int idx, link_index(name));
        nl_message m(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = idx;
        m.put(ifi);
        auto r = request(m, "netlink delete link");
        if (!r) return std::move(r.error().subject(std::string(name)));
        return {};
    }

    /// The RTM_NEWADDR request (exposed for tests). IPv6 addresses skip duplicate detection.
    [[nodiscard]] static nl_message build_add_address(int index, const ip_prefix& a) {
        nl_message m(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        ifaddrmsg ia{};
        ia.ifa_family = static_cast<std::uint8_t>(a.family);
        ia.ifa_prefixlen = a.prefix;
        ia.ifa_flags = a.family == AF_INET6 ? IFA_F_NODAD : 0;
        ia.ifa_scope = RT_SCOPE_UNIVERSE;
        ia.ifa_index = static_cast<std::uint32_t>(index);
        m.put(ia).attr(IFA_LOCAL, a.addr.data(), a.addr_len()).attr(IFA_ADDRESS, a.addr.data(), a.addr_len());
        return m;
    }

    /// Adds address `a` to link `index`.
    [[nodiscard]] result<void> add_address(int index, const ip_prefix& a) {
        auto m = build_add_address(index, a);
        auto r = request(m, "netlink add address");
        if (!r) return std::move(r.error().subject(a.to_string()));
        return {};
    }

    /// Adds a route to `dst` via `gateway` (optional) out of link `index` (0: let the kernel
    /// pick by gateway).
    [[nodiscard]] result<void> add_route(const ip_prefix& dst, const std::optional<ip_prefix>& gateway,
                                         int index) {
        nl_message m(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        rtmsg rt{};
        rt.rtm_family = static_cast<std::uint8_t>(dst.family);
        rt.rtm_dst_len = dst.prefix;
        rt.rtm_table = RT_TABLE_MAIN;
        rt.rtm_protocol = RTPROT_STATIC;
        rt.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        rt.rtm_type = RTN_UNICAST;
        m.put(rt);
        if (dst.prefix > 0) m.attr(RTA_DST, dst.addr.data(), dst.addr_len());
        if (gateway) {
            if (gateway->family != dst.family)
                return error(errc::invalid_argument, "netlink add route").subject(gateway->to_string()).note("gateway family differs from destination");
            m.attr(RTA_GATEWAY, gateway->addr.data(), gateway->addr_len());
        }
        if (index > 0) m.attr_u32(RTA_OIF, static_cast<std::uint32_t>(index));
        auto r = request(m, "netlink add route");
        if (!r) return std::move(r.error().subject(dst.to_string()));
        return {};
    }

    /// Names of all links in this namespace.
    [[nodiscard]] result<std::vector<std::string>> list_links() {
        nl_message m(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        m.put(ifi);
        std::vector<std::string> names;
        auto r = request(m, "netlink list links", [&](const nl_reply& rep) -> result<void> {
            if (rep.type != RTM_NEWLINK || rep.payload.size() < NLMSG_ALIGN(sizeof(ifinfomsg))) return {};
            auto attrs = parse_rtattrs(rep.payload.subspan(NLMSG_ALIGN(sizeof(ifinfomsg))));
            if (!attrs) return std::move(attrs).error();
            for (const auto& a : *attrs)
                if (a.type == IFLA_IFNAME) {
                    std::size_t n = 0;
                    while (n < a.data.size() && a.data[n]) ++n;
                    names.emplace_back(reinterpret_cast<const char*>(a.data.data()), n);
                }
            return {};
        });
        if (!r) return std::move(r).error();
        return names;
    }

private:
    unique_fd fd_;
    std::uint32_t seq_ = 0;
};

/// A veth link this process created, deleted on destruction (deleting one end removes both;
/// an end that went away with its namespace counts as deleted).
class veth_guard {
public:
    veth_guard() = default;
    veth_guard(int netns_fd, std::string name) : name_(std::move(name)) {
        if (netns_fd >= 0) {
            int d = ::fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
            ns_.reset(d);
        }
    }
    veth_guard(veth_guard&&) noexcept = default;
    veth_guard& operator=(veth_guard&& o) noexcept {
        if (this != &o) {
            (void)remove();
            name_ = std::move(o.name_);
            ns_ = std::move(o.ns_);
        }
        return *this;
    }
    ~veth_guard() { (void)remove(); }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    result<void> remove() {
        if (name_.empty()) return {};
        std::string n = std::move(name_);
        name_.clear();
        auto sock = ns_ ? rtnl::open_in(ns_.get()) : rtnl::open();
        ns_.reset();
        if (!sock) return std::move(sock).error();
        auto r = sock->delete_link(n);
        if (!r && r.error().code() == make_error_code(errc::not_found)) return {};
        return r;
    }

private:
    std::string name_;
    unique_fd ns_;
};

} // namespace ns
BULKHEAD_NAMESPACE_END
