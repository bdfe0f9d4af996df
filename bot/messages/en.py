"""English catalog: the same keys and placeholders as `bot/messages/fr.py` (see there why
catalogs are Python modules). Numbers and their units are tied with no-break spaces."""

from __future__ import annotations

_NB = "\u00a0"

MESSAGES: dict[str, str] = {
    # values and units
    "value.unknown": "?",
    "value.not_finite": "not finite",
    "unit.pct": "{n}%",
    "unit.mib": "{n}" + _NB + "MiB",
    "unit.gib": "{n}" + _NB + "GiB",
    "unit.tib": "{n}" + _NB + "TiB",
    # durations
    "dur.forever": "over 10 years",
    "dur.min_s": "{m}" + _NB + "min" + _NB + "{s}" + _NB + "s",
    "dur.min": "{m}" + _NB + "min",
    "dur.h_min": "{h}" + _NB + "h" + _NB + "{m}" + _NB + "min",
    "dur.h": "{h}" + _NB + "h",
    "dur.d.one": "{n}" + _NB + "day",
    "dur.d.other": "{n}" + _NB + "days",
    "dur.d_h.one": "{n}" + _NB + "day {h}" + _NB + "h",
    "dur.d_h.other": "{n}" + _NB + "days {h}" + _NB + "h",
    # Babel patterns
    "pattern.clock24": "HH:mm",
    "pattern.clock24_oclock": "HH:mm",
    "pattern.clock12": "h:mm" + _NB + "a",
    "pattern.clock12_oclock": "h" + _NB + "a",
    "pattern.date": "EEEE, MMMM d",
    "pattern.date_year": "EEEE, MMMM d, y",
    "pattern.date_first": "EEEE, MMMM d",
    "pattern.date_first_year": "EEEE, MMMM d, y",
    # finish time
    "when.today": "around" + _NB + "{time}",
    "when.tomorrow": "tomorrow around" + _NB + "{time}",
    "when.date": "{date}, around" + _NB + "{time}",
    "when.demo": "{when} by the demo's clock",
    "finish.unknown": "Finish time unknown",
    "finish.far": "Done in over 10 years",
    "finish.now": "Finishing any moment now, expected {when}",
    "finish.late": "Finish expected {when}, now overdue",
    "finish.in": "Done in {rel}, {when}",
    "tz.utc": "UTC",
    "tz.city": "{city} time",
    "tz.city_elided": "{city} time",
    # /eta
    "eta.iters": "{done} / {total} iterations ({pct})",
    "eta.steps.one": "{n} left × {each} ≈ {total}",
    "eta.steps.other": "{n} left × {each} ≈ {total}",
    "eta.steps_unmeasured.one": "{n} left, step time not measured yet",
    "eta.steps_unmeasured.other": "{n} left, step time not measured yet",
    "eta.evals.one": "{n} eval left × {each} ≈ {total}",
    "eta.evals.other": "{n} evals left × {each} ≈ {total}",
    "eta.evals_unmeasured.one": "{n} eval left, duration not measured yet",
    "eta.evals_unmeasured.other": "{n} evals left, duration not measured yet",
    "eta.evals_estimated.one": "{n} eval left × {each} (estimated) ≈ {total}",
    "eta.evals_estimated.other": "{n} evals left × {each} (estimated) ≈ {total}",
    "eta.checkpoints.one": "{n} checkpoint left × {each} ≈ {total}",
    "eta.checkpoints.other": "{n} checkpoints left × {each} ≈ {total}",
    "eta.checkpoints_unmeasured.one": "{n} checkpoint left, duration not measured yet",
    "eta.checkpoints_unmeasured.other": "{n} checkpoints left, duration not measured yet",
    "eta.steps_negligible.one": "{n} left, negligible time",
    "eta.steps_negligible.other": "{n} left, negligible time",
    "eta.evals_negligible.one": "{n} eval left, negligible time",
    "eta.evals_negligible.other": "{n} evals left, negligible time",
    "eta.checkpoints_negligible.one": "{n} checkpoint left, negligible time",
    "eta.checkpoints_negligible.other": "{n} checkpoints left, negligible time",
    "eta.total": "Total ≈ {total}{spread}",
    "eta.finish": "{finish} ({zone})",
    "eta.no_progress": "No progress line yet: the estimate starts with the first iterations.",
    "eta.done_only.one": "{n} iteration done",
    "eta.done_only.other": "{n} iterations done",
    "eta.step_only": "{step} per iteration",
    "eta.no_total": (
        "Total number of iterations unknown: restart etagram with {flag} to get a finish time."
    ),
    "eta.no_epochs": (
        "Number of epochs unknown: restart etagram with {flag} (your training's max_epochs) "
        "to get a finish time."
    ),
    "eta.no_step": "Step time not measured yet: at least two progress lines are needed.",
    "run.no_progress": "No progress line yet for this run.",
    "run.none": (
        "Nothing to show yet: no run has written a progress line. On the training machine, "
        "start <code>etagram watch LOG</code> or <code>etagram run -- CMD</code>."
    ),
    # the terminal's live line, one per run: `name · 1,300/20,000 (6.5%) · 5.9 it/s · Done in…`
    "live.iters": "{done}/{total} ({pct})",
    "live.iter": "iteration {done}",
    "live.rate": "{n}" + _NB + "it/s",
    "live.pace": "{n}" + _NB + "s/it",
    "live.waiting": "waiting for the first progress line",
    "live.more.one": "and {n} more run",
    "live.more.other": "and {n} more runs",
    "runs.title": "Runs followed:",
    "runs.line": "• {run}: {where}",
    "runs.selected": "{line} (selected)",
    "runs.iter_of": "iteration {iter} / {total}",
    "runs.iter": "iteration {iter}",
    "runs.no_progress": "no progress yet",
    "runs.pick": "Pick one with the buttons below.",
    "runs.picked": (
        "This chat now follows {run}: /eta, /status and /plot without a name answer for it."
    ),
    # /status
    # a run's phase (bot/core/lifecycle.py)
    "phase.slowed": "Slowed down: iterations take longer than usual.",
    "phase.stalled": "Stalled: last progress {ago} ago, at iteration {iter}.",
    "phase.crashed": "Training crashed at iteration {iter}, after {elapsed}.",
    "phase.crashed_no_iter": "Training crashed before its first iteration.",
    "phase.not_started": "The training could not start.",
    "phase.stopped": "Training stopped at iteration {iter}, after {elapsed}.",
    "phase.finished": "Training finished at iteration {iter}, after {elapsed}.",
    "phase.waiting.missing": "Waiting for the log: it does not exist yet.",
    "phase.waiting.permission": "Waiting for the log: permission denied.",
    "phase.waiting.not_regular": "Waiting for the log: it is not a regular file.",
    "runs.phase.running": "running",
    "runs.phase.slowed": "slowed down",
    "runs.phase.stalled": "stalled",
    "runs.phase.crashed": "crashed",
    "runs.phase.not_started": "could not start",
    "runs.phase.stopped": "stopped",
    "runs.phase.finished": "finished",
    "runs.phase.waiting": "waiting",
    "runs.waiting.missing": "waiting for the log (it does not exist yet)",
    "runs.waiting.permission": "waiting for the log (permission denied)",
    "runs.waiting.not_regular": "waiting for the log (not a regular file)",
    "status.no_eta": "No finish time yet (/eta says why)",
    "status.iter_of": "Iteration {iter} / {total}",
    "status.iter": "Iteration {iter}",
    "status.loss": "loss" + _NB + "{loss}",
    "status.best": "Best val loss: {loss}",
    "status.best_at": "Best val loss: {loss} (iteration" + _NB + "{iter})",
    "status.silent": "No progress for {ago}",
    # evals
    "eval.at": "Eval at iteration {iter}",
    "eval.title": "Eval",
    "eval.val": "val loss {loss}",
    "eval.train": "train loss {loss}",
    "eval.new_best": "New best val loss: {loss} ({delta} from {previous})",
    "eval.behind": "No improvement: the best is still {best}, gap {delta}",
    "eval.behind_at": "No improvement: the best is still {best} (iteration {iter}), gap {delta}",
    "digest.empty": "No pending evals.",
    "late.note": "🕒 Sent {delay} late (written at {time})",
    "degraded.note": "⚠️ Restarting after a failure: {parts}. The cause is in etagram's log.",
    "degraded.follow": "reading {run}",
    "degraded.consume": "what the agents send",
    "degraded.gpu": "GPU sampling",
    "degraded.live": "the /live messages",
    "degraded.tick": "periodic checks",
    "degraded.checks": "periodic checks of {run}",
    "digest.title.one": "{n} eval while Telegram was unreachable:",
    "digest.title.other": "{n} evals while Telegram was unreachable:",
    "digest.older.one": "… and {n} older one",
    "digest.older.other": "… and {n} older ones",
    "digest.iter": "iteration {iter}",
    "digest.line": "• {run}{iter}: {loss}",
    # GPUs
    "alert.no_run": "No followed run is on this GPU: one alert for the whole machine.",
    "gpu.run_on": "{run} runs on: {gpus}.",
    "gpu.run_on_none": "{run}: none of its processes is on a GPU now.",
    "gpu.unmapped": (
        "Cannot tell which GPUs each run uses ({why}): alerts about any GPU go to every run."
    ),
    "gpu.unmapped.no_proc": "no /proc to read",
    "gpu.unmapped.pid_namespace": (
        "the driver's process IDs are not visible here, as in a container"
    ),
    "gpu.unmapped.no_processes": "the driver lists no process on the GPUs",
    "gpu.none": "No GPU readings (NVML unavailable, or sampling turned off).",
    "gpu.error": "Cannot read the GPUs: {why}.",
    "gpu.error.library_not_found": "no NVIDIA driver on this machine (no libnvidia-ml)",
    "gpu.error.driver_not_loaded": "the NVIDIA driver is installed but not loaded",
    "gpu.error.version_mismatch": (
        "the NVIDIA driver was updated and the machine not restarted since"
    ),
    "gpu.error.no_permission": "etagram is not allowed to query them",
    "gpu.error.nvml_error": (
        "the driver's library (NVML) returned an error (details in etagram's log)"
    ),
    "gpu.error.unknown": "unexpected error {code}",
    "gpu.empty": "No GPU visible.",
    "gpu.all_ok": "No slowdown reported by the driver.",
    "gpu.lost": "GPU {gpu}: not responding",
    "gpu.throttled": "GPU {gpu} throttled: {reasons}.",
    "gpu.temp_vs": "{temp} (slowdown threshold {limit})",
    "gpu.details": "{details}.",
    "gpu.clock_pct": "clock at {pct} of max",
    "gpu.line": "GPU {gpu}: {util}, {used}/{total}" + _NB + "GiB, {temp}",
    "gpu.slowed": "GPU {gpu} throttled: {reasons}",
    "gpu.summary": "{n} GPUs: {util} on average, hottest {temp}",
    "gpu.n_slowed.one": "{n} throttled",
    "gpu.n_slowed.other": "{n} throttled",
    "reason.hw_slowdown": "hardware slowdown signal",
    "reason.hw_thermal": "hardware thermal limit",
    "reason.sw_thermal": "software thermal limit",
    "reason.thermal": "hardware and software thermal limits",
    "reason.sw_power_cap": "power cap",
    "reason.hw_power_brake": "hardware power brake",
    "reason_short.thermal": "heat",
    "reason_short.power": "power limit",
    "reason_short.hw_slowdown": "hardware signal",
    "reason_short.unknown": "other cause",
    # alerts
    "alert.oom": "CUDA out of memory",
    "alert.nan": "Loss is NaN",
    "alert.nan_inf": "Loss is infinite",
    "alert.nan_val": "Val loss is NaN",
    "alert.nan_val_inf": "Val loss is infinite",
    "alert.nan_other": "Loss is not a finite number",
    "alert.loss_spike": "Loss spike",
    "alert.thermal": "Thermal slowdown",
    "alert.power": "Power limit reached",
    "alert.slowdown": "Training slowed down",
    "alert.stall": "No more progress",
    "alert.crash": "Training crashed",
    "alert.gpu_lost": "GPU lost",
    "alert.memory_pressure": "GPU memory almost full",
    "alert.gpu_idle": "GPU idle while training runs",
    "alert.disk_full": "Disk almost full",
    "alert.slurm_deadline": "The SLURM job ends before training does",
    "resolved.slurm_deadline": "Training now fits in the SLURM job",
    "alert.started": "Training started",
    "alert.resumed": "Training resumed",
    "alert.new_launch": "Training started again from the beginning",
    "alert.finished": "Training finished",
    "alert.stopped": "Training stopped from Telegram",
    "alert.interrupted": "Training interrupted (KeyboardInterrupt: Ctrl-C or SIGINT)",
    "alert.too_many_runs": "Too many runs: reports about new ones ignored",
    "alert.could_not_start": "Training could not start",
    "alert.running_again": "Training is progressing again",
    "recovered.thermal": "Thermal slowdown over",
    "recovered.power": "Power limit no longer slowing training",
    "recovered.slowdown": "Back to normal speed",
    "fact.recovered": "Iterations are back to their usual speed.",
    "alert.at_iter": " at iteration {iter}",
    "alert.since_iter": " since iteration {iter}",
    "fact.gpu": "GPU {gpu}.",
    "fact.oom_tried_gpu": "Failed to allocate {size} on GPU {gpu}.",
    "fact.oom_tried": "Failed to allocate {size}.",
    "fact.gpu_capacity": "Total GPU capacity: {size}.",
    "fact.loss_is": "The loss is {loss}.",
    "fact.loss_vs": "Loss at {loss}, usually around {ref}.",
    "fact.slowed": "Training is {pct} slower.",
    "fact.slowed_for": "Training has been {pct} slower for {dur}.",
    "fact.temp": "Temperature: {temp}.",
    "fact.gpu_temp": "GPU {gpu} at {temp}.",
    "fact.reasons": "Reasons given by the driver: {reasons}.",
    "fact.alone": "{fact}.",
    "fact.on_gpu": "GPU {gpu}: {fact}.",
    "fact.power": "drawing {power} against a {limit} limit",
    "fact.step_was": "One iteration takes {step} instead of {base}.",
    "fact.silent": "Nothing new in the log for {dur}.",
    "fact.exit_code": "The process exited with code {code}.",
    "fact.error": "Error: {error}",
    "fact.no_iter": "No iteration read from the log before the error.",
    "fact.cause_time_limit": "The job reached its time limit and the scheduler stopped it.",
    "fact.cause_cancelled": "The scheduler cancelled the job.",
    "fact.cause_killed": "The process was killed.",
    "fact.stopped_by": "Stop requested by {by}.",
    "fact.collective_timeout": (
        "An NCCL collective has been waiting for more than {dur}: one of the processes no "
        "longer responds."
    ),
    "fact.gpu_lost": "GPU {gpu} no longer answers the driver.",
    "fact.too_many_runs": "This hub already follows {max} runs, the most it takes.",
    "fact.took": "Took {took}.",
    "fact.took_vs_first": "Took {took} (first estimate: {first}).",
    "fact.final_val": "Final val loss: {loss}.",
    "fact.machine_log": "On {machine}, log {log}.",
    "fact.machine": "On {machine}.",
    "fact.log": "Log: {log}.",
    "fact.not_found": "Command not found (exit code {code}).",
    "fact.not_executable": "Command found but not executable (exit code {code}).",
    "fact.after_stall": "Nothing had moved for {dur}.",
    "fact.after_stall_unknown": "It had stopped moving.",
    "fact.after_crash": "The error reported earlier did not stop it.",
    "fact.memory": "memory {pct} used ({used} of {total})",
    "fact.memory_pct": "memory {pct} used",
    "fact.gpu_idle": (
        "GPU {gpu} has been below {pct} utilization for {dur}, yet training has not ended."
    ),
    "fact.gpus_idle": (
        "{n} GPUs have been below {pct} utilization for {dur}, GPU {gpu} among them, yet "
        "training has not ended."
    ),
    "fact.disk_full": "{mount} is {pct} full: {free} left.",
    "fact.disk_path": "Checkpoints are written to {path}.",
    "fact.slurm_short": "The job ends at {end}, but training needs until {finish}: {short} short.",
    "fact.slurm_fits": "Expected finish at {finish}, before the job ends at {end}.",
    "fact.total_iters": "{total} iterations planned.",
    "fact.first_eta": "First estimate: {eta}.",
    "cost.negligible": "No noticeable effect on the finish time so far.",
    "cost.later": "Cost: finish pushed back by about {delta}.",
    "cost.earlier": "Finish brought forward by about {delta}.",
    "try.too_many_runs": (
        "Check what publishes to the hub's Redis stream: each agent should report its own runs."
    ),
    "try.oom": (
        "Try: lower <code>batch_size</code> or <code>block_size</code>, raise "
        "<code>gradient_accumulation_steps</code> to keep the same effective batch, turn on "
        "activation checkpointing."
    ),
    "try.nan": (
        "Try: lower the learning rate, clip gradients (<code>grad_clip</code>), use bf16 "
        "rather than fp16, check the last batch of data."
    ),
    "try.loss_spike": (
        "Often transient. If it happens again: lower the learning rate or clip gradients "
        "(<code>grad_clip</code>)."
    ),
    "try.thermal": (
        "Try: improve airflow, clean dust filters and heatsinks, or lower the power limit "
        "(<code>nvidia-smi -pl</code>)."
    ),
    "try.power": (
        "Check the power limit (<code>nvidia-smi -q -d POWER</code>) and the machine's power "
        "supply."
    ),
    "try.slowdown": (
        "Check other processes on the GPU (<code>nvidia-smi</code>), data loading (CPU, disk) "
        "and temperature."
    ),
    "try.stall": (
        "Check that the process is still alive (<code>ps</code>, <code>nvidia-smi</code>) and "
        "still writing to this log."
    ),
    "try.crash": (
        "The end of the log has the full traceback; once fixed, resume from the last checkpoint."
    ),
    "try.crash_no_iter": "The end of the log has the full traceback; once fixed, launch again.",
    "try.stopped": "To go on later, resume from the last checkpoint it saved.",
    "try.crash_time_limit": (
        "Ask for more time (<code>#SBATCH --time</code>) or resume from the last checkpoint."
    ),
    "try.could_not_start": (
        "Nothing ran: fix the command or its environment (script path, installed packages), "
        "then launch again."
    ),
    "try.stall_collective": (
        "Look higher up in the log for the process that failed first. "
        "<code>NCCL_DEBUG=INFO</code> tells more about the hang."
    ),
    "try.gpu_lost": (
        "Check <code>nvidia-smi</code> and <code>dmesg</code> (Xid errors); the machine often "
        "needs a reboot."
    ),
    "try.gpu_idle": (
        "Often a stuck data loader or a rank that died: <code>py-spy dump --pid PID</code> "
        "shows where a process waits; also check <code>nvidia-smi</code> and every rank's output."
    ),
    "try.disk_full": (
        "Free some space (old checkpoints, caches such as <code>~/.cache/huggingface</code>) "
        "before the next save fails, or save elsewhere."
    ),
    "try.slurm_deadline": (
        "Make sure a checkpoint is saved before the job ends, so you can resume from it; or "
        "ask for more time (<code>scontrol update JobId=… TimeLimit=…</code>, where allowed)."
    ),
    "try.memory_pressure": (
        "An OOM is close. To avoid it: lower <code>batch_size</code> or raise "
        "<code>gradient_accumulation_steps</code>."
    ),
    # commands (setMyCommands: plain text, no HTML)
    "cmd.start": "Start and check access",
    "cmd.help": "Help and command list",
    "cmd.eta": "Estimated finish time, in detail",
    "cmd.status": "Where the run stands, on one screen",
    "cmd.gpu": "GPU status",
    "cmd.plot": "Charts (loss, speed, GPUs)",
    "cmd.runs": "Runs followed, to pick one",
    "cmd.lang": "Message language",
    "cmd.tz": "Time zone for the times shown",
    "cmd.mute": "Mute notifications for a while",
    "cmd.unmute": "Turn notifications back on",
    "cmd.evals": "Choose which evals you get",
    "cmd.live": "Live status message, kept up to date",
    "cmd.subscribe": "Get notifications in this chat",
    "cmd.unsubscribe": "Stop notifications in this chat",
    "cmd.stop": "Stop a run started by etagram run",
    "help.intro": "I watch your training run and estimate when it will finish. Commands:",
    "help.examples": (
        "Examples: <code>/lang both</code>, <code>/tz Europe/Paris</code>, "
        "<code>/mute 2h</code>, <code>/evals every 2</code>."
    ),
    "help.buttons": "The buttons under /eta and /status refresh the message in place.",
    "help.run_arg": "run",
    "help.run_note": (
        "[run]: a run's name or its first letters; without it, the run picked with /runs."
    ),
    "help.live_off": "Stop the live status message",
    "help.mute_forever": "Mute until /unmute (same as /mute forever)",
    "start.welcome": (
        "Hello! This chat is allowed: evals and alerts will come here. Try /eta or /status, "
        "and /help for the rest."
    ),
    "refusal": (
        "This chat is not allowed. Its id is {chat_id}: to get access, the bot's owner must "
        "add it to <code>allowed_chat_ids</code>."
    ),
    "button.refresh": "Refresh",
    "button.plot": "Charts",
    "button.mute_1h": "Mute 1" + _NB + "h",
    "button.stop": "Stop",
    "button.stop_cancel": "Cancel",
    # /stop (values arrive escaped; {grace} and {valid} are durations)
    "stop.confirm": "<b>Stop this run?</b>",
    "stop.how": (
        "etagram sends the run SIGINT, as Ctrl-C would, so that it can save a checkpoint; "
        "then SIGTERM if it is still running {grace} later, and SIGKILL {grace} after that."
    ),
    "stop.valid": "These buttons work for {valid}.",
    "stop.sent": (
        "<b>Stopping</b>: SIGINT sent at {by}'s request. SIGTERM follows in {grace} if it is "
        "still running."
    ),
    "stop.cancelled": "Not stopped: {by} cancelled. The run goes on.",
    "stop.expired": "Not stopped: the confirmation expired after {valid}. Send /stop again.",
    "stop.not_launched": (
        "etagram only follows this run's log: it can only stop a run it started itself, "
        "with <code>etagram run -- CMD</code>."
    ),
    "stop.remote": (
        "This run is on another machine: a hub cannot stop it. Stop it there (Ctrl-C in its "
        "terminal, or <code>kill -INT</code> on its process)."
    ),
    "stop.ended": "This run has already ended: nothing to stop.",
    "stop.stopping": "Already being stopped: {signal} sent at {by}'s request.",
    # errors and acknowledgements (values arrive in <code>)
    "error.generic": "Could not do that right now ({key}).",
    "error.internal": (
        "Something went wrong on my side; the error is in etagram's log. Try again in a moment."
    ),
    "error.bad_tz": "Unknown time zone: {value}. Example: <code>/tz Europe/Paris</code>.",
    "error.bad_lang": (
        "Unknown language: {value}. Choose <code>/lang fr</code>, <code>/lang en</code> or "
        "<code>/lang both</code>."
    ),
    "error.bad_mute": (
        "Could not read that duration: {value}. Examples: <code>/mute 30m</code>, "
        "<code>/mute 2h</code>, <code>/mute 1d</code>."
    ),
    "error.bad_evals": (
        "Could not read that setting: {value}. Choose <code>/evals all</code>, "
        "<code>/evals best</code>, <code>/evals every 5</code> or <code>/evals off</code>."
    ),
    "error.stale_button": "This button has expired: send the command again.",
    "error.stop_expired": (
        "This confirmation has expired or was already used: nothing was stopped."
    ),
    "error.plot_empty": (
        "Nothing to draw yet: no loss, eval or step time read from the log so far. The chart "
        "comes with the first progress lines."
    ),
    "error.plot_failed": "Could not draw the charts right now.",
    "ack.generic": "Done ({key}).",
    "ack.lang_set": "Messages will be in English.",
    "ack.tz_set": "Time zone set: {tz}.",
    "ack.unmuted": "Notifications back on.",
    "ack.muted_until": (
        "Notifications muted for {rel} (back {when}). Critical alerts still get through."
    ),
    "ack.muted_forever": "Notifications muted until /unmute. Critical alerts still get through.",
    "ack.evals_all": "You will get every eval.",
    "ack.evals_best": "You will get only the evals that set a new best.",
    "ack.evals_every": "You will get one eval out of every {n}.",
    "ack.evals_off": "No more eval messages; alerts still come.",
    "ack.subscribed": "This chat will get evals and alerts.",
    "ack.unsubscribed": "This chat will get no more notifications. /subscribe to come back.",
    "ack.live_on": "Live status message: it will be kept up to date in place.",
    "ack.run_selected": "Run followed in this chat: {run}.",
    # The bot's own interface: milestones, live message, /plot, a few answers, the demo.
    "ui.milestone": "{pct} of the run done",
    "ui.mute_too_long": (
        "Too long: {value}. At most {max}; <code>/mute</code> with no duration mutes until /unmute."
    ),
    "ui.live_off": "Live status message stopped.",
    "ui.tz_current": (
        "Time zone: {tz} ({zone}). To change it: <code>/tz</code> followed by a city or a zone, "
        "for example <code>/tz Tokyo</code> or <code>/tz America/New_York</code>."
    ),
    "ui.tz_ambiguous": (
        "Several time zones match {value}: {zones}. Send the full name, for example "
        "<code>/tz {example}</code>."
    ),
    "ui.lang_current.fr": "Messages are in French.",
    "ui.lang_current.en": "Messages are in English.",
    "ui.lang_current.both": "Messages are in French and English, French first.",
    "ui.lang_how": (
        "To change: <code>/lang fr</code>, <code>/lang en</code> or <code>/lang both</code> "
        "(both languages)."
    ),
    "ui.evals_how": (
        "To change: <code>/evals all</code>, <code>/evals best</code>, <code>/evals every 5</code> "
        "or <code>/evals off</code>."
    ),
    "ui.mute_how": "For a set time: <code>/mute 2h</code> (at most a week). Back on: /unmute.",
    "ui.not_muted": "Notifications are already on.",
    "ui.run_unknown": "No run named {value}.",
    "ui.run_ambiguous": "Several runs start with {value}: give more of the name.",
    "ui.unknown_command": "Unknown command: {command}. Try /status or /eta.",
    "ui.plain_text": "I only answer commands: try /status or /eta.",
    "ui.help_more": "/help lists them all.",
    "ui.plot.iteration": "iteration",
    "ui.plot.progress": "Iteration {iter} / {total} · {pct}",
    "ui.plot.no_eta": "Finish time not known yet",
    "ui.plot.finished": "Finished in {elapsed}",
    "ui.plot.stopped": "Crashed after {elapsed}",
    "ui.plot.stopped_telegram": "Stopped from Telegram after {elapsed}",
    "ui.plot.interrupted": "Interrupted after {elapsed}",
    "ui.plot.stalled": "Stalled: last progress {ago} ago",
    "ui.plot.slowed": "Slowed down",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train",
    "ui.plot.val": "val",
    "ui.plot.step": "ms per iteration",
    "ui.plot.eval": "eval",
    "ui.plot.gpu_one": "GPU",
    "ui.plot.gpu_many": "{n} GPUs: the worst of each reading",
    "ui.plot.temp": "°C",
    "ui.plot.memory": "memory %",
    "ui.plot.util": "utilization %",
    "ui.plot.throttle": "throttled",
    "ui.plot.now": "now",
    "ui.plot.kilo": "{n}k",
    "ui.plot.alert": "alert",
    "ui.plot.alert.oom": "OOM",
    "ui.plot.alert.nan": "NaN",
    "ui.plot.alert.crash": "crash",
    "ui.plot.alert.loss_spike": "spike",
    "ui.plot.alert.slowdown": "slowdown",
    "ui.plot.alert.thermal": "heat",
    "ui.plot.alert.power": "power",
    "ui.plot.alert.stall": "stalled",
    "ui.plot.alert.memory_pressure": "memory",
    "ui.plot.alert.gpu_lost": "GPU lost",
    "ui.plot.alert.gpu_idle": "GPU idle",
    "ui.plot.alert.disk_full": "disk full",
    "ui.plot.alert.slurm_deadline": "job too short",
    "ui.demo.intro": (
        "etagram demo: a simulated nanoGPT run, {speed} times faster than real. The time in "
        "brackets is the demo's clock, which runs {speed} times faster too: the durations and "
        "finish times announced on it are those the real run would have. Its log: {log}"
    ),
    "ui.tour.over": "🏁 Demo over: the simulated run ended on its planned OOM.",
    "ui.tour.eta": "/eta would answer, here in both languages ({setting}):",
    "ui.tour.status": "/status would answer:",
    "ui.tour.plot": "/plot would send this picture: {path}",
    "ui.tour.next": "Next, on a real run:",
    "ui.tour.watch": "follow its log: {cmd}",
    "ui.tour.run": "or launch it and follow it: {cmd}",
    "ui.tour.telegram": (
        "To get these messages on Telegram: create a bot with @BotFather, put its token in "
        "{token}, write to it, then {check} shows the chat's id to put in {chats} (details in "
        "the README)."
    ),
}
