#include "fcgi/flusher.h"

namespace popup {

Flusher::Flusher(EventSink& sink, FlusherOptions o) : sink_(sink), o_(o) {
  if (o_.batch == 0) o_.batch = 1;
  thread_ = std::thread([this] { run(); });
}

Flusher::~Flusher() { stop(); }

void Flusher::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Flusher::queue(Pending p) {
  std::lock_guard<std::mutex> l(mu_);
  items_.push_back(Item{std::move(p), nullptr});
  // Oldest impressions go first; actions are never dropped (their callers wait).
  while (items_.size() > o_.max_waiting) {
    auto it = items_.begin();
    while (it != items_.end() && it->waiter) ++it;
    if (it == items_.end()) break;
    if (o_.left) o_.left(it->p);
    items_.erase(it);
    ++dropped_;
  }
  publish();
  // The first one starts the interval; a full batch goes at once.
  if (items_.size() == 1 || items_.size() >= o_.batch) wake_.notify_one();
}

Stored Flusher::store(Pending p) {
  auto w = std::make_shared<Waiter>();
  std::unique_lock<std::mutex> l(mu_);
  if (!running_) {
    // Stopped: store it here, alone.
    l.unlock();
    auto r = sink_.store({p});
    return r.empty() ? Stored::failed : r[0];
  }
  items_.push_back(Item{std::move(p), w});
  ++actions_waiting_;
  publish();
  wake_.notify_one();
  done_.wait(l, [&] { return w->done; });
  return w->result;
}

size_t Flusher::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return items_.size() + in_sink_;
}

void Flusher::publish() {
  if (o_.gauge) o_.gauge->store(static_cast<int64_t>(items_.size() + in_sink_));
}

uint64_t Flusher::dropped() const {
  std::lock_guard<std::mutex> l(mu_);
  return dropped_;
}

uint64_t Flusher::batches() const {
  std::lock_guard<std::mutex> l(mu_);
  return batches_;
}

bool Flusher::flush_some(std::unique_lock<std::mutex>& l) {
  size_t n = std::min(items_.size(), o_.batch);
  std::vector<Item> taken(std::make_move_iterator(items_.begin()),
                          std::make_move_iterator(items_.begin() + n));
  items_.erase(items_.begin(), items_.begin() + n);
  in_sink_ = n;
  std::vector<Pending> batch;
  batch.reserve(n);
  for (auto& it : taken) batch.push_back(it.p);
  l.unlock();
  std::vector<Stored> results = sink_.store(batch);
  results.resize(n, Stored::failed);
  if (o_.left)
    for (size_t i = 0; i < n; ++i)
      if (!taken[i].waiter && results[i] != Stored::failed) o_.left(taken[i].p);
  l.lock();
  ++batches_;
  bool ok = true;
  std::vector<Item> again;
  for (size_t i = 0; i < n; ++i) {
    if (taken[i].waiter) {
      taken[i].waiter->done = true;
      taken[i].waiter->result = results[i];
      --actions_waiting_;
    } else if (results[i] == Stored::failed) {
      again.push_back(std::move(taken[i]));
      ok = false;
    }
  }
  // Failed impressions go back ahead of newer ones, in their order.
  items_.insert(items_.begin(), std::make_move_iterator(again.begin()),
                std::make_move_iterator(again.end()));
  in_sink_ = 0;
  publish();
  done_.notify_all();
  return ok;
}

void Flusher::run() {
  std::unique_lock<std::mutex> l(mu_);
  auto retry_after = std::chrono::steady_clock::time_point{};
  for (;;) {
    if (items_.empty()) {
      if (stopping_) break;
      wake_.wait(l, [&] { return stopping_ || !items_.empty(); });
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    bool urgent = actions_waiting_ > 0 || stopping_;
    if (!urgent && now < retry_after) {
      wake_.wait_until(l, retry_after, [&] { return stopping_ || actions_waiting_ > 0; });
      continue;
    }
    // The first impression waits up to one interval for company.
    if (!urgent && items_.size() < o_.batch) {
      wake_.wait_for(l, o_.interval, [&] {
        return stopping_ || actions_waiting_ > 0 || items_.size() >= o_.batch;
      });
    }
    bool ok = flush_some(l);
    if (!ok) {
      retry_after = std::chrono::steady_clock::now() + o_.retry;
      // On the way out: one last try only.
      if (stopping_ && actions_waiting_ == 0) break;
    }
  }
  // What could not be stored on the way out is lost (counted).
  dropped_ += items_.size();
  if (o_.left)
    for (const auto& it : items_)
      if (!it.waiter) o_.left(it.p);
  items_.clear();
  publish();
  running_ = false;
}

}  // namespace popup
