"""French catalog.

Catalogs are one Python module per language rather than gettext .po/.mo files: the texts are
composed from structured pieces (plural forms picked with Babel's CLDR rules, Babel date
patterns, HTML fragments), a module is type-checked and needs no compile step nor package
data, and `tests/messages` checks that both modules define the same keys with the same
placeholders. A translator edits one dict; keys are namespaced by message kind.

French typography: a narrow no-break space (U+202F) before `:` `;` `!` `?` is put in by
`_typography` below, so the texts can be written and read with ordinary spaces; numbers and
their units are tied with no-break spaces (U+00A0) so that a phone never splits them.
"""

from __future__ import annotations

import re

_NB = "\u00a0"


def _typography(text: str) -> str:
    """Ordinary space (or none) before a high punctuation sign becomes U+202F, outside tags."""
    return re.sub(r"(?<=[^\s/(])\s?([:;!?])(?=\s|$|<)", "\u202f\\1", text)


_MESSAGES = {
    # values and units
    "value.unknown": "?",
    "value.not_finite": "non finie",
    "unit.pct": "{n}" + _NB + "%",
    "unit.mib": "{n}" + _NB + "Mio",
    "unit.gib": "{n}" + _NB + "Gio",
    "unit.tib": "{n}" + _NB + "Tio",
    # durations
    "dur.forever": "plus de 10" + _NB + "ans",
    "dur.min_s": "{m}" + _NB + "min" + _NB + "{s}",
    "dur.min": "{m}" + _NB + "min",
    "dur.h_min": "{h}" + _NB + "h" + _NB + "{m}",
    "dur.h": "{h}" + _NB + "h",
    "dur.d.one": "{n}" + _NB + "jour",
    "dur.d.other": "{n}" + _NB + "jours",
    "dur.d_h.one": "{n}" + _NB + "jour {h}" + _NB + "h",
    "dur.d_h.other": "{n}" + _NB + "jours {h}" + _NB + "h",
    # Babel patterns: French writes 3 h 27 in a sentence (see bot/messages/lang.py)
    "pattern.clock24": "H'" + _NB + "h" + _NB + "'mm",
    "pattern.clock24_oclock": "H'" + _NB + "h'",
    "pattern.clock12": "h'" + _NB + "h" + _NB + "'mm" + _NB + "a",
    "pattern.clock12_oclock": "h'" + _NB + "h'" + _NB + "a",
    "pattern.date": "EEEE d MMMM",
    "pattern.date_year": "EEEE d MMMM y",
    "pattern.date_first": "EEEE d'er' MMMM",
    "pattern.date_first_year": "EEEE d'er' MMMM y",
    # finish time
    "when.today": "vers" + _NB + "{time}",
    "when.tomorrow": "demain vers" + _NB + "{time}",
    "when.date": "{date} vers" + _NB + "{time}",
    "when.demo": "{when} à l'horloge de la démo",
    "finish.unknown": "Heure de fin inconnue",
    "finish.far": "Fin dans plus de 10" + _NB + "ans",
    "finish.now": "Fin imminente, prévue {when}",
    "finish.late": "Fin prévue {when}, déjà dépassée",
    "finish.in": "Fin dans {rel}, {when}",
    "tz.utc": "UTC",
    "tz.city": "heure de {city}",
    "tz.city_elided": "heure d'{city}",
    # /eta
    "eta.iters": "{done} / {total} itérations ({pct})",
    "eta.steps.one": "{n} restante × {each} ≈ {total}",
    "eta.steps.other": "{n} restantes × {each} ≈ {total}",
    "eta.steps_unmeasured.one": "{n} restante, durée pas encore mesurée",
    "eta.steps_unmeasured.other": "{n} restantes, durée pas encore mesurée",
    "eta.evals.one": "{n} évaluation restante × {each} ≈ {total}",
    "eta.evals.other": "{n} évaluations restantes × {each} ≈ {total}",
    "eta.evals_unmeasured.one": "{n} évaluation restante, durée pas encore mesurée",
    "eta.evals_unmeasured.other": "{n} évaluations restantes, durée pas encore mesurée",
    "eta.evals_estimated.one": "{n} évaluation restante × {each} (estimation) ≈ {total}",
    "eta.evals_estimated.other": "{n} évaluations restantes × {each} (estimation) ≈ {total}",
    "eta.checkpoints.one": "{n} sauvegarde restante × {each} ≈ {total}",
    "eta.checkpoints.other": "{n} sauvegardes restantes × {each} ≈ {total}",
    "eta.checkpoints_unmeasured.one": "{n} sauvegarde restante, durée pas encore mesurée",
    "eta.checkpoints_unmeasured.other": "{n} sauvegardes restantes, durée pas encore mesurée",
    "eta.steps_negligible.one": "{n} restante, durée négligeable",
    "eta.steps_negligible.other": "{n} restantes, durée négligeable",
    "eta.evals_negligible.one": "{n} évaluation restante, durée négligeable",
    "eta.evals_negligible.other": "{n} évaluations restantes, durée négligeable",
    "eta.checkpoints_negligible.one": "{n} sauvegarde restante, durée négligeable",
    "eta.checkpoints_negligible.other": "{n} sauvegardes restantes, durée négligeable",
    "eta.total": "Total ≈ {total}{spread}",
    "eta.finish": "{finish} ({zone})",
    "eta.no_progress": (
        "Pas encore de ligne de progression : l'estimation commencera avec les premières "
        "itérations."
    ),
    "eta.done_only.one": "{n} itération effectuée",
    "eta.done_only.other": "{n} itérations effectuées",
    "eta.step_only": "{step} par itération",
    "eta.no_total": (
        "Nombre total d'itérations inconnu : relancez etagram avec {flag} pour avoir une "
        "heure de fin."
    ),
    "eta.no_epochs": (
        "Nombre d'époques inconnu : relancez etagram avec {flag} (le max_epochs de votre "
        "entraînement) pour avoir une heure de fin."
    ),
    "eta.no_step": (
        "Durée d'une itération pas encore mesurée : il faut au moins deux lignes de progression."
    ),
    "run.no_progress": "Pas encore de ligne de progression pour cet entraînement.",
    "run.none": (
        "Rien à montrer pour l'instant : aucun entraînement n'a encore écrit de ligne de "
        "progression. Sur la machine d'entraînement, lancez <code>etagram watch LOG</code> ou "
        "<code>etagram run -- CMD</code>."
    ),
    # la ligne vivante du terminal, une par entraînement
    "live.iters": "{done}/{total} ({pct})",
    "live.iter": "itération {done}",
    "live.rate": "{n}" + _NB + "it/s",
    "live.pace": "{n}" + _NB + "s/it",
    "live.waiting": "en attente de la première ligne de progression",
    "live.more.one": "et {n} autre entraînement",
    "live.more.other": "et {n} autres entraînements",
    "runs.title": "Entraînements suivis :",
    "runs.line": "• {run} : {where}",
    "runs.selected": "{line} (choisi)",
    "runs.iter_of": "itération {iter} / {total}",
    "runs.iter": "itération {iter}",
    "runs.no_progress": "pas encore de progression",
    "runs.pick": "Choisissez-en un avec les boutons ci-dessous.",
    "runs.picked": (
        "Cette discussion suit désormais {run} : /eta, /status et /plot sans nom répondent "
        "pour lui."
    ),
    # /status
    # a run's phase (bot/core/lifecycle.py)
    "phase.slowed": "Ralenti : les itérations prennent plus de temps que d'habitude.",
    "phase.stalled": "Bloqué : dernière progression il y a {ago}, à l'itération {iter}.",
    "phase.crashed": "Entraînement arrêté sur une erreur à l'itération {iter}, après {elapsed}.",
    "phase.crashed_no_iter": "Entraînement arrêté sur une erreur avant la première itération.",
    "phase.not_started": "L'entraînement n'a pas pu démarrer.",
    "phase.stopped": "Entraînement arrêté à l'itération {iter}, après {elapsed}.",
    "phase.finished": "Entraînement terminé à l'itération {iter}, après {elapsed}.",
    "phase.waiting.missing": "En attente du log : il n'existe pas encore.",
    "phase.waiting.permission": "En attente du log : permission refusée.",
    "phase.waiting.not_regular": "En attente du log : ce n'est pas un fichier ordinaire.",
    "runs.phase.running": "en cours",
    "runs.phase.slowed": "ralenti",
    "runs.phase.stalled": "bloqué",
    "runs.phase.crashed": "arrêté sur une erreur",
    "runs.phase.not_started": "n'a pas pu démarrer",
    "runs.phase.stopped": "arrêté",
    "runs.phase.finished": "terminé",
    "runs.phase.waiting": "en attente",
    "runs.waiting.missing": "en attente du log (il n'existe pas encore)",
    "runs.waiting.permission": "en attente du log (permission refusée)",
    "runs.waiting.not_regular": "en attente du log (pas un fichier ordinaire)",
    "status.no_eta": "Heure de fin pas encore calculable (/eta dit pourquoi)",
    "status.iter_of": "Itération {iter} / {total}",
    "status.iter": "Itération {iter}",
    "status.loss": "loss" + _NB + "{loss}",
    "status.best": "Meilleure val loss : {loss}",
    "status.best_at": "Meilleure val loss : {loss} (itération" + _NB + "{iter})",
    "status.silent": "Pas de progression depuis {ago}",
    # evals
    "eval.at": "Évaluation à l'itération {iter}",
    "eval.title": "Évaluation",
    "eval.val": "val loss {loss}",
    "eval.train": "train loss {loss}",
    "eval.new_best": "Nouvelle meilleure val loss : {loss} ({delta} par rapport à {previous})",
    "eval.behind": "Pas d'amélioration : la meilleure reste {best}, écart {delta}",
    "eval.behind_at": (
        "Pas d'amélioration : la meilleure reste {best} (itération {iter}), écart {delta}"
    ),
    "digest.empty": "Aucune évaluation en attente.",
    "late.note": "🕒 Envoyé avec {delay} de retard (écrit à {time})",
    "degraded.note": (
        "⚠️ Redémarrage après une panne : {parts}. La cause est dans le journal d'etagram."
    ),
    "degraded.follow": "lecture de {run}",
    "degraded.consume": "réception des agents",
    "degraded.gpu": "relevé des GPU",
    "degraded.live": "les messages /live",
    "degraded.tick": "vérifications périodiques",
    "degraded.checks": "vérifications périodiques de {run}",
    "digest.title.one": "{n} évaluation pendant que Telegram était injoignable :",
    "digest.title.other": "{n} évaluations pendant que Telegram était injoignable :",
    "digest.older.one": "… et {n} plus ancienne",
    "digest.older.other": "… et {n} plus anciennes",
    "digest.iter": "itération {iter}",
    "digest.line": "• {run}{iter} : {loss}",
    # GPUs
    "alert.no_run": (
        "Aucun entraînement suivi ne tourne sur ce GPU : une seule alerte pour la machine."
    ),
    "gpu.run_on": "{run} tourne sur : {gpus}.",
    "gpu.run_on_none": "{run} : aucun de ses processus n'est sur un GPU en ce moment.",
    "gpu.unmapped": (
        "Impossible de savoir quels GPU utilise chaque entraînement ({why}) : les alertes "
        "de chaque GPU vont à tous les entraînements."
    ),
    "gpu.unmapped.no_proc": "pas de /proc à lire",
    "gpu.unmapped.pid_namespace": (
        "les numéros de processus du pilote ne sont pas visibles ici, comme dans un conteneur"
    ),
    "gpu.unmapped.no_processes": "le pilote n'indique aucun processus sur les GPU",
    "gpu.none": "Pas de mesure GPU (NVML indisponible, ou mesure désactivée).",
    "gpu.error": "Impossible de lire les GPU : {why}.",
    "gpu.error.library_not_found": "pas de pilote NVIDIA sur cette machine (libnvidia-ml absente)",
    "gpu.error.driver_not_loaded": "le pilote NVIDIA est installé mais pas chargé",
    "gpu.error.version_mismatch": (
        "le pilote NVIDIA a été mis à jour sans que la machine ait redémarré depuis"
    ),
    "gpu.error.no_permission": "etagram n'a pas le droit de les interroger",
    "gpu.error.nvml_error": (
        "la bibliothèque du pilote (NVML) a renvoyé une erreur, notée dans le journal d'etagram"
    ),
    "gpu.error.unknown": "erreur inattendue {code}",
    "gpu.empty": "Aucun GPU visible.",
    "gpu.all_ok": "Aucun ralentissement signalé par le pilote.",
    "gpu.lost": "GPU {gpu} : ne répond plus",
    "gpu.throttled": "GPU {gpu} bridé : {reasons}.",
    "gpu.temp_vs": "{temp} (seuil de ralentissement {limit})",
    "gpu.details": "{details}.",
    "gpu.clock_pct": "horloge à {pct} du maximum",
    "gpu.line": "GPU {gpu} : {util}, {used}/{total}" + _NB + "Gio, {temp}",
    "gpu.slowed": "GPU {gpu} bridé : {reasons}",
    "gpu.summary": "{n} GPU : {util} en moyenne, {temp} au plus chaud",
    "gpu.n_slowed.one": "{n} bridé",
    "gpu.n_slowed.other": "{n} bridés",
    "reason.hw_slowdown": "signal de ralentissement matériel",
    "reason.hw_thermal": "limite thermique matérielle",
    "reason.sw_thermal": "limite thermique logicielle",
    "reason.thermal": "limites thermiques matérielle et logicielle",
    "reason.sw_power_cap": "plafond de puissance",
    "reason.hw_power_brake": "frein de puissance matériel",
    "reason_short.thermal": "chaleur",
    "reason_short.power": "limite de puissance",
    "reason_short.hw_slowdown": "signal matériel",
    "reason_short.unknown": "autre cause",
    # alerts: title, then facts, cost and what to try
    "alert.oom": "Mémoire GPU épuisée (OOM)",
    "alert.nan": "Loss NaN",
    "alert.nan_inf": "Loss infinie",
    "alert.nan_val": "Val loss NaN",
    "alert.nan_val_inf": "Val loss infinie",
    "alert.nan_other": "Loss non finie",
    "alert.loss_spike": "Pic de loss",
    "alert.thermal": "Ralentissement thermique",
    "alert.power": "Limite de puissance atteinte",
    "alert.slowdown": "Entraînement ralenti",
    "alert.stall": "Plus aucune progression",
    "alert.crash": "Entraînement arrêté sur une erreur",
    "alert.gpu_lost": "GPU perdu",
    "alert.memory_pressure": "Mémoire GPU presque pleine",
    "alert.gpu_idle": "GPU inactif pendant l'entraînement",
    "alert.disk_full": "Disque presque plein",
    "alert.slurm_deadline": "Le job SLURM finit avant l'entraînement",
    "resolved.slurm_deadline": "L'entraînement tient désormais dans le job SLURM",
    "alert.started": "Entraînement démarré",
    "alert.resumed": "Entraînement repris",
    "alert.new_launch": "Entraînement relancé depuis le début",
    "alert.finished": "Entraînement terminé",
    "alert.stopped": "Entraînement arrêté depuis Telegram",
    "alert.interrupted": "Entraînement interrompu (KeyboardInterrupt : Ctrl-C ou SIGINT)",
    "alert.too_many_runs": "Trop d'entraînements : les nouveaux sont ignorés",
    "alert.could_not_start": "L'entraînement n'a pas pu démarrer",
    "alert.running_again": "L'entraînement progresse de nouveau",
    "recovered.thermal": "Fin du ralentissement thermique",
    "recovered.power": "La limite de puissance ne ralentit plus l'entraînement",
    "recovered.slowdown": "Retour à la vitesse normale",
    "fact.recovered": "Les itérations ont retrouvé leur vitesse habituelle.",
    "alert.at_iter": " à l'itération {iter}",
    "alert.since_iter": " depuis l'itération {iter}",
    "fact.gpu": "GPU {gpu}.",
    "fact.oom_tried_gpu": "Allocation de {size} refusée sur le GPU {gpu}.",
    "fact.oom_tried": "Allocation de {size} refusée.",
    "fact.gpu_capacity": "Capacité totale du GPU : {size}.",
    "fact.loss_is": "La loss vaut {loss}.",
    "fact.loss_vs": "Loss à {loss}, contre {ref} d'habitude.",
    "fact.slowed": "L'entraînement est ralenti de {pct}.",
    "fact.slowed_for": "L'entraînement est ralenti de {pct} depuis {dur}.",
    "fact.temp": "Température : {temp}.",
    "fact.gpu_temp": "GPU {gpu} à {temp}.",
    "fact.reasons": "Raisons données par le pilote : {reasons}.",
    "fact.alone": "{fact}.",
    "fact.on_gpu": "GPU {gpu} : {fact}.",
    "fact.power": "consommation de {power} pour une limite de {limit}",
    "fact.step_was": "Une itération prend {step} au lieu de {base}.",
    "fact.silent": "Rien de nouveau dans le log depuis {dur}.",
    "fact.exit_code": "Le processus s'est terminé avec le code {code}.",
    "fact.error": "Erreur : {error}",
    "fact.no_iter": "Aucune itération lue dans le log avant l'erreur.",
    "fact.cause_time_limit": "Le job a atteint sa limite de temps et l'ordonnanceur l'a arrêté.",
    "fact.cause_cancelled": "L'ordonnanceur a annulé le job.",
    "fact.cause_killed": "Le processus a été tué.",
    "fact.stopped_by": "Arrêt demandé par {by}.",
    "fact.collective_timeout": (
        "Une opération collective NCCL attend depuis plus de {dur} : un des processus ne "
        "répond plus."
    ),
    "fact.gpu_lost": "Le GPU {gpu} ne répond plus au pilote.",
    "fact.too_many_runs": "Ce hub suit déjà {max} entraînements, le maximum qu'il accepte.",
    "fact.took": "Durée : {took}.",
    "fact.took_vs_first": "Durée : {took} (première estimation : {first}).",
    "fact.final_val": "Dernière val loss : {loss}.",
    "fact.machine_log": "Sur {machine}, log {log}.",
    "fact.machine": "Sur {machine}.",
    "fact.log": "Log : {log}.",
    "fact.not_found": "Commande introuvable (code de sortie {code}).",
    "fact.not_executable": "Commande trouvée mais pas exécutable (code de sortie {code}).",
    "fact.after_stall": "Plus rien n'avait bougé pendant {dur}.",
    "fact.after_stall_unknown": "Plus rien ne bougeait.",
    "fact.after_crash": "L'erreur signalée plus tôt ne l'a pas arrêté.",
    "fact.memory": "mémoire utilisée à {pct} ({used} sur {total})",
    "fact.memory_pct": "mémoire utilisée à {pct}",
    "fact.gpu_idle": (
        "Le GPU {gpu} est sous {pct} d'utilisation depuis {dur}, alors que l'entraînement "
        "n'est pas terminé."
    ),
    "fact.gpus_idle": (
        "{n} GPU sont sous {pct} d'utilisation depuis {dur}, dont le GPU {gpu}, alors que "
        "l'entraînement n'est pas terminé."
    ),
    "fact.disk_full": "{mount} est plein à {pct} : il reste {free}.",
    "fact.disk_path": "Les sauvegardes sont écrites dans {path}.",
    "fact.slurm_short": (
        "Le job finit à {end}, mais l'entraînement a besoin de tourner jusqu'à {finish} : il "
        "manque {short}."
    ),
    "fact.slurm_fits": "Fin prévue à {finish}, avant la fin du job à {end}.",
    "fact.total_iters": "{total} itérations prévues.",
    "fact.first_eta": "Première estimation : {eta}.",
    "cost.negligible": "Pas d'effet notable sur l'heure de fin pour l'instant.",
    "cost.later": "Coût : fin repoussée d'environ {delta}.",
    "cost.earlier": "Fin avancée d'environ {delta}.",
    "try.too_many_runs": (
        "Vérifiez ce qui publie dans le flux Redis du hub : chaque agent ne doit signaler que "
        "ses propres entraînements."
    ),
    "try.oom": (
        "À essayer : baisser <code>batch_size</code> ou <code>block_size</code>, augmenter "
        "<code>gradient_accumulation_steps</code> pour garder le même batch effectif, activer "
        "le recalcul des activations (<i>activation checkpointing</i>)."
    ),
    "try.nan": (
        "À essayer : baisser le learning rate, limiter la norme du gradient "
        "(<code>grad_clip</code>), passer en bf16 si vous êtes en fp16, vérifier le dernier "
        "lot de données."
    ),
    "try.loss_spike": (
        "Souvent passager. S'il se répète : baisser le learning rate ou limiter la norme du "
        "gradient (<code>grad_clip</code>)."
    ),
    "try.thermal": (
        "À essayer : améliorer la ventilation, nettoyer les filtres et les radiateurs, ou "
        "baisser la limite de puissance (<code>nvidia-smi -pl</code>)."
    ),
    "try.power": (
        "À vérifier : la limite de puissance (<code>nvidia-smi -q -d POWER</code>) et "
        "l'alimentation de la machine."
    ),
    "try.slowdown": (
        "À vérifier : les autres processus sur le GPU (<code>nvidia-smi</code>), le chargement "
        "des données (processeur, disque), la température."
    ),
    "try.stall": (
        "À vérifier : le processus tourne-t-il encore (<code>ps</code>, "
        "<code>nvidia-smi</code>) et écrit-il toujours dans ce log ?"
    ),
    "try.crash": (
        "La fin du log donne la trace complète ; une fois le problème réglé, reprenez depuis la "
        "dernière sauvegarde."
    ),
    "try.crash_no_iter": (
        "La fin du log donne la trace complète ; une fois le problème réglé, relancez."
    ),
    "try.stopped": "Pour continuer plus tard, reprenez depuis sa dernière sauvegarde.",
    "try.crash_time_limit": (
        "Demandez plus de temps (<code>#SBATCH --time</code>) ou reprenez depuis la dernière "
        "sauvegarde."
    ),
    "try.could_not_start": (
        "Rien n'a tourné : corrigez la commande ou son environnement (chemin du script, "
        "paquets installés), puis relancez."
    ),
    "try.stall_collective": (
        "À chercher plus haut dans le log : le processus qui a échoué le premier. "
        "<code>NCCL_DEBUG=INFO</code> en dit plus sur le blocage."
    ),
    "try.gpu_lost": (
        "À vérifier : <code>nvidia-smi</code> et <code>dmesg</code> (erreurs Xid) ; il faut "
        "souvent redémarrer la machine."
    ),
    "try.gpu_idle": (
        "Souvent un chargeur de données bloqué ou un rang mort : <code>py-spy dump --pid "
        "PID</code> montre où un processus attend ; à vérifier aussi : <code>nvidia-smi</code> "
        "et la sortie de chaque rang."
    ),
    "try.disk_full": (
        "Libérez de la place (anciennes sauvegardes, caches comme "
        "<code>~/.cache/huggingface</code>) avant que la prochaine sauvegarde échoue, ou "
        "sauvegardez ailleurs."
    ),
    "try.slurm_deadline": (
        "Assurez-vous qu'une sauvegarde a lieu avant la fin du job, pour pouvoir "
        "reprendre ensuite ; ou demandez plus de temps (<code>scontrol update JobId=… "
        "TimeLimit=…</code>, si c'est permis)."
    ),
    "try.memory_pressure": (
        "Un OOM approche. Pour l'éviter : baisser <code>batch_size</code> ou augmenter "
        "<code>gradient_accumulation_steps</code>."
    ),
    # commands (setMyCommands: plain text, no HTML)
    "cmd.start": "Démarrer et vérifier l'accès",
    "cmd.help": "Aide et liste des commandes",
    "cmd.eta": "Heure de fin estimée, en détail",
    "cmd.status": "Où en est l'entraînement, en un écran",
    "cmd.gpu": "État des GPU",
    "cmd.plot": "Graphiques (loss, vitesse, GPU)",
    "cmd.runs": "Entraînements suivis, pour en choisir un",
    "cmd.lang": "Langue des messages",
    "cmd.tz": "Fuseau horaire des heures affichées",
    "cmd.mute": "Couper les notifications un moment",
    "cmd.unmute": "Réactiver les notifications",
    "cmd.evals": "Choisir les évaluations envoyées",
    "cmd.live": "Message d'état mis à jour en direct",
    "cmd.subscribe": "Recevoir les notifications ici",
    "cmd.unsubscribe": "Ne plus recevoir les notifications ici",
    "cmd.stop": "Arrêter un entraînement lancé par etagram run",
    "help.intro": ("Je surveille votre entraînement et j'estime son heure de fin. Commandes :"),
    "help.examples": (
        "Exemples : <code>/lang both</code>, <code>/tz Europe/Paris</code>, "
        "<code>/mute 2h</code>, <code>/evals every 2</code>."
    ),
    "help.buttons": "Les boutons sous /eta et /status actualisent le message sur place.",
    "help.run_arg": "nom",
    "help.run_note": (
        "[nom] : le nom d'un entraînement ou ses premières lettres ; sans lui, celui choisi "
        "avec /runs."
    ),
    "help.live_off": "Arrêter le message d'état en direct",
    "help.mute_forever": "Couper jusqu'à /unmute (comme /mute forever)",
    "start.welcome": (
        "Bonjour ! Cette discussion est autorisée : les évaluations et les alertes arriveront ici. "
        "Essayez /eta ou /status, et /help pour le reste."
    ),
    "refusal": (
        "Cette discussion n'est pas autorisée. Son identifiant est {chat_id} : pour y avoir "
        "accès, le propriétaire du bot doit l'ajouter à <code>allowed_chat_ids</code>."
    ),
    "button.refresh": "Actualiser",
    "button.plot": "Graphiques",
    "button.mute_1h": "Silence 1" + _NB + "h",
    "button.stop": "Arrêter",
    "button.stop_cancel": "Annuler",
    # /stop (values arrive escaped; {grace} and {valid} are durations)
    "stop.confirm": "<b>Arrêter cet entraînement ?</b>",
    "stop.how": (
        "etagram lui envoie SIGINT, comme un Ctrl-C, pour qu'il puisse faire une dernière "
        "sauvegarde ; puis SIGTERM s'il tourne encore {grace} plus tard, et SIGKILL {grace} "
        "après."
    ),
    "stop.valid": "Ces boutons restent valables {valid}.",
    "stop.sent": (
        "<b>Arrêt en cours</b> : SIGINT envoyé à la demande de {by}. SIGTERM suivra dans "
        "{grace} s'il tourne encore."
    ),
    "stop.cancelled": "Pas d'arrêt : {by} a annulé. L'entraînement continue.",
    "stop.expired": "Pas d'arrêt : la confirmation a expiré au bout de {valid}. Renvoyez /stop.",
    "stop.not_launched": (
        "etagram ne fait que suivre le log de cet entraînement : il ne peut arrêter que ce "
        "qu'il a lancé lui-même, avec <code>etagram run -- CMD</code>."
    ),
    "stop.remote": (
        "Cet entraînement tourne sur une autre machine : un hub ne peut pas l'arrêter. "
        "Arrêtez-le sur place (Ctrl-C dans son terminal, ou <code>kill -INT</code> sur son "
        "processus)."
    ),
    "stop.ended": "Cet entraînement est déjà terminé : rien à arrêter.",
    "stop.stopping": "Arrêt déjà en cours : {signal} envoyé à la demande de {by}.",
    # errors and acknowledgements (values arrive in <code>)
    "error.generic": "Impossible pour l'instant ({key}).",
    "error.internal": (
        "Une erreur s'est produite de mon côté ; elle est dans le journal d'etagram. "
        "Réessayez dans un instant."
    ),
    "error.bad_tz": "Fuseau horaire inconnu : {value}. Exemple : <code>/tz Europe/Paris</code>.",
    "error.bad_lang": (
        "Langue inconnue : {value}. Au choix : <code>/lang fr</code>, <code>/lang en</code> "
        "ou <code>/lang both</code>."
    ),
    "error.bad_mute": (
        "Durée non comprise : {value}. Exemples : <code>/mute 30m</code>, "
        "<code>/mute 2h</code>, <code>/mute 1d</code>."
    ),
    "error.bad_evals": (
        "Réglage non compris : {value}. Au choix : <code>/evals all</code>, "
        "<code>/evals best</code>, <code>/evals every 5</code> ou <code>/evals off</code>."
    ),
    "error.stale_button": "Ce bouton a expiré : renvoyez la commande.",
    "error.stop_expired": "Cette confirmation a expiré ou a déjà servi : rien n'a été arrêté.",
    "error.plot_empty": (
        "Rien à tracer pour l'instant : aucune loss, évaluation ni durée d'itération lue dans "
        "le log. Le graphique viendra avec les premières lignes de progression."
    ),
    "error.plot_failed": "Impossible de tracer les graphiques pour l'instant.",
    "ack.generic": "C'est fait ({key}).",
    "ack.lang_set": "Les messages seront en français.",
    "ack.tz_set": "Fuseau horaire enregistré : {tz}.",
    "ack.unmuted": "Notifications réactivées.",
    "ack.muted_until": (
        "Notifications coupées pendant {rel} (reprise {when}). Les alertes critiques passent "
        "quand même."
    ),
    "ack.muted_forever": (
        "Notifications coupées jusqu'à /unmute. Les alertes critiques passent quand même."
    ),
    "ack.evals_all": "Vous recevrez chaque évaluation.",
    "ack.evals_best": (
        "Vous ne recevrez que les évaluations qui améliorent la meilleure val loss."
    ),
    "ack.evals_every": "Vous recevrez une évaluation sur {n}.",
    "ack.evals_off": "Plus d'évaluations envoyées ; les alertes continuent.",
    "ack.subscribed": "Cette discussion recevra les évaluations et les alertes.",
    "ack.unsubscribed": (
        "Cette discussion ne recevra plus de notifications. /subscribe pour revenir."
    ),
    "ack.live_on": "Message d'état en direct : il sera mis à jour sur place.",
    "ack.run_selected": "Entraînement suivi dans cette discussion : {run}.",
    # The bot's own interface: milestones, live message, /plot, a few answers, the demo.
    "ui.milestone": "{pct} de l'entraînement effectué",
    "ui.mute_too_long": (
        "Durée trop longue : {value}. Au plus {max} ; <code>/mute</code> sans durée coupe "
        "jusqu'à /unmute."
    ),
    "ui.live_off": "Message d'état en direct arrêté.",
    "ui.tz_current": (
        "Fuseau horaire : {tz} ({zone}). Pour le changer : <code>/tz</code> suivi d'une ville "
        "ou d'un fuseau, par exemple <code>/tz Tokyo</code> ou <code>/tz America/New_York</code>."
    ),
    "ui.tz_ambiguous": (
        "Plusieurs fuseaux horaires correspondent à {value} : {zones}. Envoyez le nom complet, "
        "par exemple <code>/tz {example}</code>."
    ),
    "ui.lang_current.fr": "Les messages sont en français.",
    "ui.lang_current.en": "Les messages sont en anglais.",
    "ui.lang_current.both": "Les messages sont en français et en anglais, le français d'abord.",
    "ui.lang_how": (
        "Pour changer : <code>/lang fr</code>, <code>/lang en</code> ou <code>/lang both</code> "
        "(les deux langues)."
    ),
    "ui.evals_how": (
        "Pour changer : <code>/evals all</code> (toutes), <code>/evals best</code> (seulement "
        "les meilleures), <code>/evals every 5</code> (une sur 5) ou <code>/evals off</code> "
        "(aucune)."
    ),
    "ui.mute_how": (
        "Pour une durée précise : <code>/mute 2h</code> (une semaine au plus). Pour les "
        "réactiver : /unmute."
    ),
    "ui.not_muted": "Les notifications sont déjà actives.",
    "ui.run_unknown": "Aucun entraînement ne s'appelle {value}.",
    "ui.run_ambiguous": "Plusieurs entraînements commencent par {value} : précisez le nom.",
    "ui.unknown_command": "Commande inconnue : {command}. Essayez /status ou /eta.",
    "ui.plain_text": "Je ne réponds qu'aux commandes : essayez /status ou /eta.",
    "ui.help_more": "/help en donne la liste complète.",
    "ui.plot.iteration": "itération",
    "ui.plot.progress": "Itération {iter} / {total} · {pct}",
    "ui.plot.no_eta": "Heure de fin pas encore connue",
    "ui.plot.finished": "Terminé en {elapsed}",
    "ui.plot.stopped": "Arrêté sur une erreur après {elapsed}",
    "ui.plot.stopped_telegram": "Arrêté depuis Telegram après {elapsed}",
    "ui.plot.interrupted": "Interrompu après {elapsed}",
    "ui.plot.stalled": "Bloqué : dernière progression il y a {ago}",
    "ui.plot.slowed": "Ralenti",
    "ui.plot.loss": "loss",
    "ui.plot.train": "train",
    "ui.plot.val": "val",
    "ui.plot.step": "ms par itération",
    "ui.plot.eval": "éval",
    "ui.plot.gpu_one": "GPU",
    "ui.plot.gpu_many": "{n} GPU : le pire de chaque mesure",
    "ui.plot.temp": "°C",
    "ui.plot.memory": "mémoire %",
    "ui.plot.util": "utilisation %",
    "ui.plot.throttle": "bridage",
    "ui.plot.now": "maintenant",
    "ui.plot.kilo": "{n} k",
    "ui.plot.alert": "alerte",
    "ui.plot.alert.oom": "OOM",
    "ui.plot.alert.nan": "NaN",
    "ui.plot.alert.crash": "arrêt",
    "ui.plot.alert.loss_spike": "pic",
    "ui.plot.alert.slowdown": "ralenti",
    "ui.plot.alert.thermal": "chaleur",
    "ui.plot.alert.power": "puissance",
    "ui.plot.alert.stall": "bloqué",
    "ui.plot.alert.memory_pressure": "mémoire",
    "ui.plot.alert.gpu_lost": "GPU perdu",
    "ui.plot.alert.gpu_idle": "GPU inactif",
    "ui.plot.alert.disk_full": "disque plein",
    "ui.plot.alert.slurm_deadline": "job trop court",
    "ui.demo.intro": (
        "Démo d'etagram : un entraînement nanoGPT simulé, {speed} fois plus vite qu'en vrai. "
        "L'heure entre crochets est celle de l'horloge de la démo, qui avance elle aussi "
        "{speed} fois plus vite : les durées et heures de fin annoncées sur elle sont celles "
        "qu'aurait le vrai entraînement. Son log : {log}"
    ),
    "ui.tour.over": "🏁 Fin de la démo : l'entraînement simulé s'est arrêté sur l'OOM prévu.",
    "ui.tour.eta": "/eta répondrait, ici dans les deux langues ({setting}) :",
    "ui.tour.status": "/status répondrait :",
    "ui.tour.plot": "/plot enverrait cette image : {path}",
    "ui.tour.next": "Et maintenant, sur un vrai entraînement :",
    "ui.tour.watch": "suivre son log : {cmd}",
    "ui.tour.run": "ou le lancer et le suivre : {cmd}",
    "ui.tour.telegram": (
        "Pour recevoir ces messages sur Telegram : créez un bot avec @BotFather, mettez son "
        "jeton dans {token}, écrivez-lui, puis {check} donne l'identifiant de la discussion "
        "à mettre dans {chats} (détails dans le README)."
    ),
}

MESSAGES: dict[str, str] = {
    key: text if key.startswith(("pattern.", "cmd.")) else _typography(text)
    for key, text in _MESSAGES.items()
}
