// Player page: plays the stream's byte-range playlist with hls.js (served from this node, no CDN),
// shows live stats every second and reports stalls to the node. Tests read window.cjp2pPlayer.
/* global Hls, performance */
(function () {
  'use strict'
  var root = document.getElementById('player')
  var video = document.getElementById('video')
  var cfg = root.dataset
  var stats = {
    state: 'waiting for the first verified segment', latency: null, pdtLatency: null, buffer: null,
    stalls: 0, stallSeconds: 0, liveJumps: 0, catchUps: 0, fatalErrors: [], bytesFromPeers: null, bytesFromSource: null, peers: null,
  }
  var player = { hls: null, video: video, stats: stats, lowLatency: false }
  window.cjp2pPlayer = player

  // Live tuning (MEDIA.md): stay about 1.5 target durations behind the edge, catch up at up to
  // 1.5x, and jump forward if we fall more than a few segments behind. Smaller buffers stall on a
  // busy machine.
  var td = Math.max(0.5, Number(cfg.targetDuration) || 1)
  var liveSync = Math.max(1.5, 1.5 * td)
  var hlsConfig = {
    liveSyncDuration: liveSync,
    liveMaxLatencyDuration: liveSync + Math.max(3, 3 * td),
    maxLiveSyncPlaybackRate: 1.5,
    backBufferLength: 30,
  }
  // A low-latency stream (the playlist has EXT-X-PART-INF): hls.js in lowLatencyMode loads parts
  // and holds PART-HOLD-BACK behind the edge, which the playlist sets. Any liveSyncDuration we set
  // would override that hold-back (MEDIA.md), so none is set here.
  // hls.js adds liveSyncOnStallIncrease to its target on every stall (1 s by default) and never
  // takes it back, so one stall left a viewer a second behind for good (issue #14): a small step
  // still backs off under repeated stalls, and keepLive restores the playlist's target after
  // STALL_RECOVER_MS of smooth play. hls.js's own catch-up (maxLiveSyncPlaybackRate) only runs
  // with more than 1 s buffered ahead, which a low-latency stream never has, and it resets any
  // other rate to 1 on every timeupdate: it is off (1), and keepLive does the catching up.
  // No worker: a low-latency stream is fMP4, which hls.js passes through (no transmuxing to move
  // off the page's thread), and its worker is the whole hls.js bundle compiled a second time
  // before the first part can be appended: 0.1-0.2 s of a first frame on a quiet 2-core machine,
  // more on a busy one (issue #14).
  var lowLatencyConfig = {
    lowLatencyMode: true,
    enableWorker: false,
    maxLiveSyncPlaybackRate: 1,
    liveSyncOnStallIncrease: 0.1,
    backBufferLength: 30,
  }
  var STALL_RECOVER_MS = 15000
  var lastStallAt = 0

  // Catching up in low latency: when the picture is more than CATCH_UP_FROM behind hls.js's
  // target and at least CATCH_UP_SPARE is buffered beyond it, play a little faster (barely
  // audible) until within CATCH_UP_UNTIL, or the buffer runs low. Further behind than
  // LIVE_JUMP_SECONDS (a long stall), jump to hls.js's live sync position if it is buffered with
  // some to spare, at most every LIVE_JUMP_EVERY_MS.
  var CATCH_UP_FROM = 0.08
  var CATCH_UP_UNTIL = 0.02
  var CATCH_UP_SPARE = 0.3
  var CATCH_UP_RATE = 1.15
  var LIVE_JUMP_SECONDS = 0.8
  var LIVE_JUMP_SPARE_SECONDS = 0.3
  var LIVE_JUMP_EVERY_MS = 5000
  var lastJump = 0
  var jumping = false

  var started = false
  var stallStart = null
  var stallTimeAt = 0
  var pending = { stalls: 0, stallSeconds: 0 }
  var lastReport = 0

  function show(message) {
    var el = document.getElementById('message')
    el.textContent = message
    el.hidden = false
  }

  function beginStall() {
    if (!started || stallStart !== null) return
    stallStart = performance.now()
    stallTimeAt = video.currentTime
  }
  function endStall() {
    if (stallStart === null) return
    var seconds = (performance.now() - stallStart) / 1000
    stallStart = null
    stats.stalls++
    stats.stallSeconds += seconds
    pending.stalls++
    pending.stallSeconds += seconds
  }

  function latencySeconds() {
    // The source's program date time against our clock is glass-to-glass latency when clocks agree.
    if (stats.pdtLatency !== null && stats.pdtLatency >= 0) return stats.pdtLatency
    return stats.latency
  }

  function report(final) {
    var now = Date.now()
    // One report per stall batch at most every 5 s, plus a latency heartbeat every 30 s.
    if (!final && !(pending.stalls > 0 && now - lastReport >= 5000) && now - lastReport < 30000) return
    if (!started && pending.stalls === 0) return
    lastReport = now
    var body = { stalls: pending.stalls, stallSeconds: Number(pending.stallSeconds.toFixed(3)), latencySeconds: latencySeconds() }
    pending = { stalls: 0, stallSeconds: 0 }
    fetch(cfg.report, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), keepalive: true })
      .catch(function () {})
  }

  function bufferAhead() {
    var b = video.buffered
    for (var i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && video.currentTime <= b.end(i)) return b.end(i) - video.currentTime
    }
    return 0
  }

  function pick(obj, keys) {
    for (var i = 0; i < keys.length; i++) if (obj && typeof obj[keys[i]] === 'number') return obj[keys[i]]
    return null
  }

  // status.json is the node's own shape; read it defensively (see PlayerStatusHints in app.ts).
  var statusBusy = false
  function pollStatus() {
    if (statusBusy) return
    statusBusy = true
    fetch('/status.json', { cache: 'no-store' }).then(function (r) { return r.ok ? r.json() : null }).then(function (s) {
      if (!s || typeof s !== 'object') return
      var peers = s.peers
      stats.peers = typeof peers === 'number' ? peers : Array.isArray(peers) ? peers.length : pick(peers, ['active', 'count', 'known'])
      var streams = s.streams
      var mine = Array.isArray(streams) ? streams.find(function (x) { return x && x.id === cfg.streamId }) : streams && streams[cfg.streamId]
      if (mine) {
        stats.bytesFromPeers = pick(mine, ['bytesFromPeers'])
        stats.bytesFromSource = pick(mine, ['bytesFromSource'])
      }
    }).catch(function () {}).finally(function () { statusBusy = false })
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return '-'
    return typeof v === 'number' ? v.toFixed(digits) : String(v)
  }

  function bufferedAt(t, spare) {
    var b = video.buffered
    for (var i = 0; i < b.length; i++) if (b.start(i) <= t && t + spare <= b.end(i)) return true
    return false
  }

  // The target latency the playlist asks for (PART-HOLD-BACK), without hls.js's stall increase.
  function playlistTarget(hls) {
    var d = hls.latestLevelDetails
    var target = d && (d.partHoldBack || d.holdBack)
    return typeof target === 'number' && target > 0 ? target : null
  }

  function setRate(rate) {
    if (video.playbackRate !== rate) video.playbackRate = rate
  }

  function keepLive() {
    var hls = player.hls
    if (!player.lowLatency || !hls) return
    if (!started || video.paused || video.seeking || stallStart !== null) return setRate(1)
    var base = playlistTarget(hls)
    // Setting targetLatency is hls.js's only way to clear its stall count.
    if (base !== null && Date.now() - lastStallAt >= STALL_RECOVER_MS && hls.targetLatency > base + 0.01) hls.targetLatency = base
    var target = hls.targetLatency
    var lag = hls.latency - target
    if (typeof target !== 'number' || !isFinite(lag)) return setRate(1)
    var sync = hls.liveSyncPosition
    if (lag >= LIVE_JUMP_SECONDS && typeof sync === 'number' && isFinite(sync) && sync > video.currentTime &&
        Date.now() - lastJump >= LIVE_JUMP_EVERY_MS && bufferedAt(sync, LIVE_JUMP_SPARE_SECONDS)) {
      lastJump = Date.now()
      jumping = true
      stats.liveJumps++
      setRate(1)
      video.currentTime = sync
      return
    }
    var ahead = bufferAhead()
    if (video.playbackRate > 1) {
      if (lag <= CATCH_UP_UNTIL || ahead < CATCH_UP_SPARE) setRate(1)
    } else if (lag > CATCH_UP_FROM && ahead > CATCH_UP_SPARE + lag) {
      stats.catchUps++
      setRate(CATCH_UP_RATE)
    }
  }

  function tick() {
    var hls = player.hls
    if (hls) {
      stats.latency = Number.isFinite(hls.latency) ? hls.latency : null
      stats.pdtLatency = hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : null
    }
    stats.buffer = bufferAhead()
    if (stallStart !== null && video.currentTime > stallTimeAt + 0.2 && !video.paused) endStall()
    var cells = { state: stats.state, latency: fmt(stats.latency, 2), pdtLatency: fmt(stats.pdtLatency, 2),
      buffer: fmt(stats.buffer, 2), stalls: stats.stalls + ' / ' + stats.stallSeconds.toFixed(1),
      bytesFromPeers: fmt(stats.bytesFromPeers, 0), bytesFromSource: fmt(stats.bytesFromSource, 0), peers: fmt(stats.peers, 0) }
    document.querySelectorAll('[data-stat]').forEach(function (td) { td.textContent = cells[td.dataset.stat] })
    pollStatus()
    report(false)
  }

  function onHlsError(_event, data) {
    if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
      lastStallAt = Date.now()
      beginStall()
    }
    if (!data.fatal) return
    stats.fatalErrors.push(data.type + ': ' + data.details)
    var hls = player.hls
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      stats.state = 'network error, retrying'
      setTimeout(function () { hls.startLoad() }, 1000)
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      stats.state = 'media error, recovering'
      hls.recoverMediaError()
    } else {
      stats.state = 'failed: ' + data.details
      show('Playback failed: ' + data.details)
      hls.destroy()
      player.hls = null
    }
  }

  function start(lowLatency) {
    stats.state = 'loading'
    player.lowLatency = lowLatency
    // Check hls.js first: Chromium claims native HLS but stalls on byte-range playlists.
    if (window.Hls && Hls.isSupported()) {
      var hls = new Hls(lowLatency ? lowLatencyConfig : hlsConfig)
      player.hls = hls
      hls.on(Hls.Events.ERROR, onHlsError)
      hls.on(Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function () {}) })
      hls.loadSource(cfg.playlist)
      hls.attachMedia(video)
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = cfg.playlist
      video.play().catch(function () {})
    } else {
      stats.state = 'unsupported'
      show('This browser cannot play HLS (no MediaSource support).')
    }
  }

  // hls.js gives up on a playlist with no segments, so wait for the first verified one.
  function waitForSegments() {
    fetch(cfg.playlist, { cache: 'no-store' }).then(function (r) { return r.ok ? r.text() : '' }).then(function (text) {
      if (text.indexOf('#EXTINF') >= 0) start(text.indexOf('#EXT-X-PART-INF') >= 0)
      else setTimeout(waitForSegments, 1000)
    }).catch(function () { setTimeout(waitForSegments, 1000) })
  }

  video.addEventListener('playing', function () { started = true; stats.state = 'playing'; endStall() })
  // A jump within the buffer may fire 'waiting' for an instant; that is not a stall.
  video.addEventListener('seeked', function () { jumping = false })
  video.addEventListener('waiting', function () { if (jumping) return; beginStall(); if (started) stats.state = 'buffering' })
  window.addEventListener('pagehide', function () { endStall(); report(true) })
  setInterval(tick, 1000)
  setInterval(keepLive, 100)
  // The page says when the playlist already lists a complete segment: hls.js starts at once, a
  // playlist round trip sooner (issue #14, first frame); otherwise poll until it does.
  if (cfg.start === 'low' || cfg.start === 'normal') start(cfg.start === 'low')
  else waitForSegments()
})()
