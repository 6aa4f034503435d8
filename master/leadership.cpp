// Leadership: contending in ZooKeeper, recovering from the registry, the
// phases a master goes through, and what it answers while not leading.
//
//   standby     another master leads (or none yet): HTTP requests are
//               redirected to the leader (307), protocol messages dropped.
//   recovering  elected; the registry is being read. HTTP answers 503,
//               protocol messages wait in the mailbox (CAF `skip`).
//   leading     the full message table (master.cpp).
//
// A master without --zk goes straight to recovering. A leading master that
// learns of another leader, of no leader, or that its candidacy is gone
// (session expired, node deleted), or whose registry write fails, exits at
// once: no stale leader ever serves writes (Mesos: "committing suicide").
// A standby whose candidacy is lost contends again.

#include <arpa/inet.h>

#include <caf/all.hpp>
#include <caf/detail/default_invoke_result_visitor.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "master/master_actor.hpp"
#include "master/operator_json.hpp"
#include "registrar/parts.hpp"

namespace stoa::master {

using namespace stoa::internal;

namespace {

std::string phase_name(Phase p) {
  switch (p) {
    case Phase::standby:
      return "standby";
    case Phase::recovering:
      return "recovering";
    case Phase::leading:
      return "leading";
  }
  return "?";
}

}  // namespace

uint32_t master_ip_number(const std::string& ip) {
  in_addr a{};
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) {
    return 0;
  }
  return a.s_addr;  // network order, as Mesos writes it (MESOS-1201)
}

registrar::Options registrar_options(const MasterFlags& flags) {
  registrar::Options o;
  o.backend = effective_registry(flags);
  o.work_dir = flags.work_dir;
  if (flags.zk) {
    if (Try<zookeeper::Url> url = zookeeper::parse_url(*flags.zk); url.is_some()) {
      o.zk_connect = url->connect_string();
      o.zk_path = url->path;
    }
  }
  auto ms = [](Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  o.zk_session_timeout = ms(flags.zk_session_timeout);
  o.fetch_timeout = ms(flags.registry_fetch_timeout);
  o.store_timeout = ms(flags.registry_store_timeout);
  return o;
}

// --- contending ----------------------------------------------------------------

void Master::start_contending() {
  detector::Options o;
  o.master = *opts.flags.zk;
  o.subscriber = caf::actor_cast<caf::actor>(self);
  o.session_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(opts.flags.zk_session_timeout);
  o.contend_with = detector::master_info_json(st.info);
  Try<caf::actor> d = detector::spawn_detector(self->system(), std::move(o));
  if (d.is_error()) {
    // The flag was checked at start-up: this is not expected.
    self->quit(caf::make_error(caf::sec::runtime_error, "Cannot contend in ZooKeeper: " + d.error()));
    return;
  }
  if (detector_actor) {
    stop_actor(self->system(), detector_actor);
  }
  detector_actor = *d;
  self->link_to(detector_actor);
  LOG_INFO << "Master " << st.info.id() << " contending for leadership at " << *opts.flags.zk;
}

void Master::on_leader(const detector::Leader& l) {
  if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(detector_actor)) {
    drop_message("leader");
    return;
  }
  leader = l;
  metrics->set("master/contenders", l.contenders);
  if (phase != Phase::standby) {
    if (!l.self) {
      abdicate(l.pid.empty() ? "no master leads any more" : "master " + l.pid + " leads now");
    }
    return;
  }
  if (l.pid.empty()) {
    LOG_INFO << "No master leads";
    return;
  }
  if (!l.self) {
    LOG_INFO << "Master " << l.pid << " leads (" << l.znode << "); this master stands by";
    return;
  }
  if (l.contenders < opts.flags.quorum) {
    LOG_INFO << "Elected (" << l.znode << "), waiting for --quorum=" << opts.flags.quorum << " masters to contend ("
             << l.contenders << " do)";
    return;
  }
  LOG_INFO << "Elected as the leading master (" << l.znode << ")";
  start_recovery();
}

void Master::on_lost(const std::string& why) {
  if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(detector_actor)) {
    drop_message("lost candidacy");
    return;
  }
  if (phase != Phase::standby) {
    abdicate("candidacy lost: " + why);
    return;
  }
  LOG_WARNING << "Candidacy lost while standing by (" << why << "); contending again";
  leader = detector::Leader{};
  self->unlink_from(detector_actor);
  start_contending();
}

void Master::abdicate(const std::string& why) {
  LOG_ERROR << "Lost leadership (" << why << ") while " << phase_name(phase) << "; exiting";
  phase = Phase::standby;  // e.g. ends a replay of stashed messages (replay_stash)
  metrics->set("master/elected", 0);
  self->quit(caf::make_error(caf::sec::runtime_error, "Lost leadership: " + why));
}

// --- recovery -------------------------------------------------------------------

// A message that arrives while recovering waits in recovery_stash, unless
// it is a re-registration identical to one waiting (same sender, slave id
// and bytes): the slave's retry, dropped, as the waiting one is answered
// on the same connection (a slave whose connection breaks meanwhile is
// told by its down message and tries again). Different content waits too.
void Master::stash(caf::message_view& x) {
  caf::strong_actor_ptr sender = self->current_sender();
  caf::type_erased_tuple& content = x.content();
  if (sender && content.match_elements<internal::ReregisterSlaveMessage>()) {
    const auto& m = content.get_as<internal::ReregisterSlaveMessage>(0);
    const uint64_t hash = registrar::fnv1a64(m.SerializeAsString());
    HeldReregistration held{sender->address(), hash};
    auto [it, added] = held_reregistrations.try_emplace(m.slave().id().value(), held);
    if (!added) {
      if (it->second.hash == hash && it->second.from == held.from) {
        count("master/duplicate_reregistrations");
        return;
      }
      it->second = std::move(held);
    }
  }
  recovery_stash.push_back(Stashed{std::move(sender), x.move_content_to_message()});
}

// Handles the stashed messages in their order, as if they had just arrived
// (their sender is the current sender), before any later message. Tens of
// thousands after a failover of a large cluster: handled in slices of at
// most REPLAY_SLICE and TURN_BUDGET (TurnBudget), the master sending itself
// replay_atom after each slice. Meanwhile (replaying_behavior) every
// message that arrives is stashed behind them, so the order of everything
// is kept, except requests (HTTP endpoints, metrics), which are answered
// between two slices from the state as it is — within REPLAY_YIELD_EVERY
// slices however many messages wait ahead of them: the master stays
// responsive while it catches up.
void Master::replay_stash() {
  if (recovery_stash.empty()) {
    held_reregistrations.clear();
    check_registry_loaded();
    return;
  }
  LOG_INFO << "Handling " << recovery_stash.size() << " messages that arrived while recovering, " << REPLAY_SLICE
           << " at a time";
  replay_started = std::chrono::steady_clock::now();
  replay_yielded = replay_started;
  replay_slices_since_yield = 0;
  replayed = 0;
  self->become(replaying_behavior());
  replay_slice();
}

void Master::replay_slice() {
  caf::behavior handlers = leading_behavior(self);
  caf::mailbox_element* current = self->current_mailbox_element();
  const TurnBudget budget;
  for (size_t n = 0; n < REPLAY_SLICE && !recovery_stash.empty() && !budget.spent(n); ++n) {
    if (phase != Phase::leading) {
      break;  // a stashed message made us abdicate: the rest is not ours to handle
    }
    Stashed m = std::move(recovery_stash.front());
    recovery_stash.pop_front();
    ++replayed;
    caf::mailbox_element_ptr element = caf::make_mailbox_element(
        m.sender, caf::make_message_id(caf::message_priority::normal), {}, caf::message{});
    self->current_mailbox_element(element.get());
    if (!handlers(m.content)) {
      count("master/messages_while_not_leading");
      LOG_WARNING << "Dropping a message that arrived while recovering: "
                  << caf::to_string(m.content).substr(0, 200);
    }
  }
  self->current_mailbox_element(current);
  if (phase != Phase::leading) {
    recovery_stash.clear();
    return;
  }
  // The events the slice made go now: their flush_events_atom arrives
  // while replaying and is stashed behind the rest (then flushes nothing).
  flush_events();
  if (!recovery_stash.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (++replay_slices_since_yield >= REPLAY_YIELD_EVERY || now - replay_yielded >= REPLAY_YIELD_AFTER) {
      replay_slices_since_yield = 0;
      replay_yielded = now;
      self->send(self, replay_atom_v);  // behind the mailbox (REPLAY_YIELD_EVERY)
    } else {
      self->send<caf::message_priority::high>(self, replay_atom_v);
    }
    return;
  }
  held_reregistrations.clear();
  set_safe_handlers(self, "master");
  self->become(leading_behavior(self));
  check_registry_loaded();
  LOG_INFO << "Handled the " << replayed << " messages stashed while recovering (and since) in "
           << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                    replay_started)
                  .count()
           << " ms";
}

caf::behavior Master::replaying_behavior() {
  self->set_default_handler([](caf::scheduled_actor* s, caf::message_view& x) -> caf::result<caf::message> {
    auto* actor = static_cast<master_actor*>(s);
    if (s->current_message_id().is_request()) {
      // Answered (or refused) by the leading handlers, through the
      // actor's own response path.
      caf::detail::default_invoke_result_visitor<caf::scheduled_actor> answer{s};
      caf::behavior handlers = leading_behavior(actor);
      if (handlers(answer, x.content()) == caf::match_case::no_match) {
        return caf::make_error(caf::sec::unexpected_message);
      }
      return caf::delegated<caf::message>{};
    }
    actor->state.stash(x);
    return caf::message{};
  });
  return {
      [this](replay_atom) { replay_slice(); },
  };
}

void Master::start_recovery() {
  phase = Phase::recovering;
  held_reregistrations.clear();
  recovery_stash.clear();
  replayed = 0;
  recovery_asked = std::chrono::steady_clock::now();
  // High priority: the answer (with the same priority) overtakes the
  // re-registrations that queue up meanwhile.
  self->request<caf::message_priority::high>(registrar, caf::infinite, registrar::recover_atom_v, st.info)
      .then([this](registrar::ScannedRegistry& r) { on_recovered(r); },
            [this](caf::error& e) { registrar_failed("recover", e); });
}

void Master::on_recovered(registrar::ScannedRegistry& scanned) {
  const auto answered = std::chrono::steady_clock::now();
  phase = Phase::leading;
  st.elected_time = now_seconds();
  metrics->set("master/elected", 1);
  const registry::Registry& r = scanned.rest;
  size_t registry_bytes = r.ByteSizeLong();
  for (size_t i = 0; i < scanned.slave_ids.size(); ++i) {
    registry_bytes += scanned.slave_infos[i].size();
    st.recovered_slaves[std::move(scanned.slave_ids[i])].encoded_info = std::move(scanned.slave_infos[i]);
  }
  for (const registry::UnreachableSlave& u : r.unreachable().slaves()) {
    st.unreachable_slaves[u.id().value()] = static_cast<double>(u.timestamp().nanoseconds()) / 1e9;
  }
  for (const registry::GoneSlave& g : r.gone().slaves()) {
    forget_slave_for_good(g.id().value());
  }
  for (const registry::RemovedFramework& f : r.removed_frameworks().frameworks()) {
    st.removed_frameworks[f.id().value()] = static_cast<double>(f.timestamp().nanoseconds()) / 1e9;
  }
  recovered_total = st.recovered_slaves.size();
  // The registry's weights and quota (set through the operator API by an
  // earlier leader) override --weights.
  if (r.weights_size() > 0) {
    std::map<std::string, double> w;
    for (const auto& x : r.weights()) {
      w[x.role()] = x.weight();
    }
    self->request(alloc, caf::infinite, allocator::UpdateWeights{w}).then([](const std::string& error) {
      if (!error.empty()) {
        LOG_ERROR << "Cannot restore the registry's weights: " << error;
      }
    });
  }
  if (r.has_maintenance()) {
    if (std::optional<std::string> error = maintenance.restore(r.maintenance())) {
      LOG_ERROR << "Ignoring the registry's maintenance: " << *error;
    } else {
      LOG_INFO << "Recovered the maintenance schedule: " << json_serialize(maintenance.status_json());
    }
  }
  maintenance_next = maintenance;
  for (const auto& q : r.quotas()) {
    Try<Resources> g = Resources::from_proto(q.guarantee());
    if (g.is_error()) {
      LOG_ERROR << "Ignoring the registry's quota of role '" << q.role() << "': " << g.error();
      continue;
    }
    self->request(alloc, caf::infinite, allocator::SetQuota{q.role(), *g}).then([role = q.role()](const std::string& error) {
      if (!error.empty()) {
        LOG_ERROR << "Cannot restore the registry's quota of role '" << role << "': " << error;
      }
    });
  }
  LOG_INFO << "Recovered " << st.recovered_slaves.size() << " slaves from the registry (" << registry_bytes
           << " bytes; answered "
           << std::chrono::duration_cast<std::chrono::milliseconds>(answered - recovery_asked).count()
           << " ms after asking, taken in "
           << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - answered).count()
           << " ms), " << st.unreachable_slaves.size() << " unreachable; allowing "
           << format_duration(opts.flags.slave_reregister_timeout) << " for slaves to re-register";
  if (!st.recovered_slaves.empty()) {
    self->delayed_send(self, opts.flags.slave_reregister_timeout, recovered_timer_atom_v);
  }
  set_safe_handlers(self, "master");
  self->become(leading_behavior(self));
  replay_stash();
  start_utilization();
}

// Slaves of the registry that did not come back in time become unreachable,
// unless that would be more of them than --recovery_slave_removal_limit
// allows: then something is wrong with this master, not with the slaves,
// and it exits rather than remove them (Mesos).
void Master::on_recovered_timeout() {
  if (st.recovered_slaves.empty()) {
    return;
  }
  double missing = static_cast<double>(st.recovered_slaves.size());
  double fraction = recovered_total == 0 ? 0.0 : missing / static_cast<double>(recovered_total);
  if (fraction > opts.flags.recovery_removal_fraction()) {
    abdicate("post-recovery slave removal limit exceeded: " + std::to_string(st.recovered_slaves.size()) + " of " +
             std::to_string(recovered_total) + " slaves did not re-register within --slave_reregister_timeout, "
             "above --recovery_slave_removal_limit");
    return;
  }
  auto missing_slaves = std::move(st.recovered_slaves);
  st.recovered_slaves.clear();
  for (const auto& [id, info] : missing_slaves) {
    LOG_WARNING << "Slave " << id << " (" << info.info().hostname()
                << ") did not re-register after the master failover; marking it unreachable";
    double when = now_seconds();
    st.unreachable_slaves[id] = when;
    registry::Operation op;
    op.mutable_mark_slave_unreachable()->mutable_slave_id()->set_value(id);
    op.mutable_mark_slave_unreachable()->mutable_timestamp()->set_nanoseconds(static_cast<int64_t>(when * 1e9));
    registry_apply(std::move(op), nullptr);
    count("master/slave_unreachable_completed");
  }
}

// --- the registrar ----------------------------------------------------------------

// The registrar answered recovery from a scan and parses the whole registry
// when first needed (registrar.hpp): asked once the stash is handled, so
// that its parse does not compete with those re-registrations. A registry
// that does not parse ends this leadership.
void Master::check_registry_loaded() {
  self->request(registrar, caf::infinite, registrar::loaded_atom_v)
      .then([](bool) {}, [this](caf::error& e) { registrar_failed("load the registry", e); });
}

void Master::registry_apply(registry::Operation op, std::function<void(bool)> done) {
  self->request(registrar, caf::infinite, registrar::apply_atom_v, std::move(op))
      .then(
          [done = std::move(done)](bool changed) {
            if (done) {
              done(changed);
            }
          },
          [this](caf::error& e) { registrar_failed("apply", e); });
}

void Master::registrar_failed(const char* what, const caf::error& e) {
  count("master/registrar_failures");
  abdicate(std::string("the registrar failed to ") + what + ": " + self->system().render(e));
}

// --- what a master answers while it does not lead --------------------------------

StatusReply Master::not_leading_reply(const std::string& endpoint) {
  if (endpoint == "health") {
    return {200, std::string()};
  }
  if (phase == Phase::recovering) {
    if (endpoint == "redirect") {
      return redirect_reply();
    }
    return json_error(503, "Master has not finished recovery");
  }
  if (leader.self) {
    // Elected, but fewer than --quorum masters contend: nobody leads yet
    // (and a redirect to ourselves would loop).
    return json_error(503, "Elected, waiting for --quorum=" + std::to_string(opts.flags.quorum) +
                               " masters to contend (" + std::to_string(leader.contenders) + " do)");
  }
  return redirect_reply();
}

// 307 to the leader: the body is the leader's base URL; the HTTP route
// (actors/actor_route.cpp) appends the request's path and query, except for
// /master/redirect, which goes to the leader's root (Mesos).
StatusReply Master::redirect_reply() {
  if (phase == Phase::leading) {
    return {307, "//" + st.info.hostname() + ":" + std::to_string(st.info.port())};
  }
  if (leader.pid.empty()) {
    return json_error(503, "No leader elected");
  }
  Try<Upid> u = parse_upid(leader.pid);
  if (u.is_error()) {
    return json_error(503, "The leader's address '" + leader.pid + "' is malformed");
  }
  std::string host = leader.hostname.empty() ? u->host : leader.hostname;
  return {307, "//" + host + ":" + std::to_string(u->port)};
}

caf::behavior Master::waiting_behavior() {
  // Protocol messages: kept for later while recovering, dropped on standby.
  self->set_default_handler([](caf::scheduled_actor* s, caf::message_view& x) -> caf::result<caf::message> {
    Master& m = static_cast<master_actor*>(s)->state;
    if (m.phase == Phase::recovering) {
      if (s->current_message_id().is_request()) {
        return caf::skip;  // answered once leading (requests are rare here)
      }
      m.stash(x);
      return caf::message{};
    }
    m.count("master/messages_while_not_leading");
    LOG_INFO << "Dropping a message while not leading: " << caf::to_string(x.content()).substr(0, 200);
    if (s->current_message_id().is_request()) {
      return caf::make_error(caf::sec::request_receiver_down, "this master does not lead");
    }
    return caf::message{};
  });
  return {
      [this](detector::leader_atom, const detector::Leader& l) { on_leader(l); },
      [this](detector::lost_atom, const std::string& why) { on_lost(why); },
      [this](state_atom, const std::string& endpoint,
             const std::map<std::string, std::string>&) -> caf::result<int, std::string> {
        auto [status, body] = not_leading_reply(endpoint);
        return {status, body};
      },
      [this](view_atom, const std::string& endpoint,
             const std::map<std::string, std::string>&) -> caf::result<int, std::string, ViewBody> {
        auto [status, body] = not_leading_reply(endpoint);
        return {status, body, ViewBody()};
      },
      [this](update_atom, const std::string& endpoint, const std::string&, const std::string&,
             const std::string&) -> caf::result<int, std::string> {
        auto [status, body] = not_leading_reply(endpoint);
        return {status, body};
      },
      [this](metrics_atom) -> bool {
        metrics->set("master/elected", 0);
        return true;
      },
      [this](recovered_timer_atom) { from_self("recovered timer"); },
      // The allocator runs its periodic pass from the start. Before this
      // master leads no framework is in it, so a pass offers nothing: not a
      // dropped message worth a log line every allocation interval.
      [this](offers_atom, allocator::Allocations& a) {
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(alloc)) {
          drop_message("offers");
        } else if (!a.empty()) {
          count("master/messages_while_not_leading");
          LOG_WARNING << "Dropping " << a.size() << " offers the allocator made while this master does not lead";
        }
      },
  };
}

}  // namespace stoa::master
