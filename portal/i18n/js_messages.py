"""Texts the pages' scripts show, translated like the templates' and handed to them as JSON
(`<script type="application/json" id="textes">` in base.html, read by static/js/i18n.js).

Keys are stable names used in the scripts, grouped by script; `{name}` placeholders are filled
by the script. Add a text here, use `t("key")` in the script, then run `flask translations
update`. tests/portal/test_script_texts.py checks that the keys here and in the scripts agree.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

MESSAGES = {
    # copy-link.js
    "copy.done": _l("Lien copié."),
    "copy.failed": _l("Copie impossible : sélectionnez le lien et copiez-le."),
    # lobby.js (the guest's waiting page)
    "lobby.busy": _l("Le portail est très sollicité, nouvel essai dans quelques secondes…"),
    "lobby.offline": _l("Connexion au portail interrompue, nouvel essai dans un instant…"),
    "lobby.admitted": _l("Un modérateur vous a fait entrer. Ouverture de la réunion…"),
    "lobby.refused": _l("Un modérateur n'a pas accepté votre entrée dans la réunion."),
    "lobby.waiting": _l(
        "Un modérateur va vous faire entrer dans la réunion. Gardez cette page ouverte."
    ),
    # prejoin.js
    "prejoin.preview.unsupported": _l(
        "Votre navigateur ne permet pas d'afficher l'aperçu de la caméra."
    ),
    "prejoin.preview.on": _l("Aperçu de votre caméra."),
    "prejoin.preview.denied": _l(
        "L'accès à la caméra a été refusé. Autorisez-le dans votre navigateur pour être vu."
    ),
    "prejoin.preview.no_camera": _l("Aucune caméra utilisable n'a été trouvée."),
    "prejoin.audio_only": _l("Audio seul : vous ne recevrez ni n'enverrez de vidéo."),
    "prejoin.camera_off": _l("Caméra désactivée : les autres participants ne vous verront pas."),
    # room.js
    "room.connecting": _l("Connexion à la réunion…"),
    "room.joined": _l("Vous êtes dans la réunion."),
    "room.join.failed": _l("Impossible de rejoindre la réunion : {error}"),
    "room.self.name": _l("{name} (vous)"),
    "room.camera.stopped": _l("Votre caméra s'est arrêtée."),
    "room.camera.denied": _l(
        "L'accès à la caméra a été refusé : autorisez-le dans votre navigateur pour être vu."
    ),
    "room.camera.not_found": _l(
        "Aucune caméra utilisable n'a été trouvée : les autres participants ne vous voient pas."
    ),
    "room.camera.busy": _l(
        "Votre caméra n'a pas pu être ouverte : elle est peut-être utilisée par une "
        "autre application."
    ),
    "room.camera.failed": _l(
        "Votre caméra n'a pas pu être activée : les autres participants ne vous voient pas."
    ),
    "room.microphone.forbidden": _l(
        "Les modérateurs ont coupé les micros : vous ne pouvez pas réactiver le vôtre "
        "pour l'instant."
    ),
    "room.screen.started": _l("Vous partagez votre écran."),
    "room.screen.stopped": _l("Vous ne partagez plus votre écran."),
    "room.screen.cancelled": _l("Partage d'écran annulé."),
    "room.screen.failed": _l("Le partage d'écran n'a pas pu démarrer : {error}"),
    "room.ended.title": _l("La réunion est terminée"),
    "room.ended.by_moderator": _l("Un modérateur a terminé la réunion pour tous les participants."),
    "room.ended.schedule": _l("L'horaire prévu de la réunion est dépassé."),
    "room.ended.max_duration": _l("La réunion a atteint sa durée maximale de 6 heures."),
    "room.removed.title": _l("Vous avez été retiré de la réunion"),
    "room.removed.detail": _l(
        "Un modérateur vous a retiré de cette réunion. Vous ne pouvez pas la rejoindre de nouveau."
    ),
    "room.refused.locked.title": _l("La salle est verrouillée"),
    "room.refused.locked.detail": _l(
        "Seuls les modérateurs peuvent entrer pour le moment. Réessayez plus tard."
    ),
    "room.refused.full.title": _l("La salle est complète"),
    "room.refused.full.detail": _l(
        "Le nombre maximal de participants est atteint. Réessayez plus tard."
    ),
    "room.participant.joined": _l("{name} a rejoint la réunion."),
    "room.participant.promoted": _l("{name} est maintenant modérateur."),
    "room.participant.left": _l("{name} a quitté la réunion."),
    "room.participant.screen": _l("{name} partage son écran."),
    "room.self.promoted": _l("Vous êtes maintenant modérateur de cette réunion."),
    "room.self.muted": _l("Un modérateur a coupé votre micro."),
    "room.hand.self": _l("Vous avez levé la main."),
    "room.hand.other": _l("{name} lève la main."),
    "room.locked": _l("La salle est verrouillée : seuls les modérateurs peuvent entrer."),
    "room.unlocked": _l("La salle est déverrouillée."),
    "room.mute_all.forbidden": _l(
        "Les modérateurs ont coupé les micros. Vous ne pouvez pas réactiver le vôtre "
        "pour l'instant."
    ),
    "room.mute_all.lifted": _l("Vous pouvez de nouveau activer votre micro."),
    "room.error.forbidden": _l("Cette action est réservée aux modérateurs."),
    "room.error.http": _l("Erreur {status}"),
    "room.chat.too_long": _l("Votre message est trop long (2 000 caractères au plus)."),
    "room.chat.rate_limited": _l(
        "Vous envoyez des messages trop vite : attendez une seconde avant le suivant."
    ),
    "room.audio_only.imposed": _l(
        "Cette réunion se tient en audio seul : votre caméra est coupée."
    ),
    "room.connection.closed": _l("Connexion perdue : {reason}. Rechargez la page pour revenir."),
    "room.connection.closed.no_reason": _l(
        "Connexion perdue : erreur. Rechargez la page pour revenir."
    ),
    "room.reconnecting": _l("Connexion perdue, reconnexion…"),
    "room.reconnected": _l("Connexion rétablie."),
    "room.reconnected.hands_lowered": _l("Connexion rétablie. Les mains levées ont été baissées."),
    "room.rejoin.forbidden": _l("Vous ne pouvez plus rejoindre la réunion"),
    "room.reconnection.failed.title": _l("Connexion perdue"),
    "room.reconnection.failed.detail": _l(
        "La connexion au serveur de visioconférence n'a pas pu être rétablie. Vérifiez votre "
        "connexion à Internet, puis rejoignez de nouveau la réunion."
    ),
    # room/audio-only.js
    "audio_only.button": _l("Audio seul"),
    "audio_only.entered": _l(
        "Audio seul : vous ne recevez plus de vidéo et votre caméra est coupée."
    ),
    "audio_only.left": _l("Vidéo rétablie. Vous pouvez réactiver votre caméra."),
    "audio_only.badge": _l("audio seul"),
    # room/chat.js
    "chat.sender.self": _l("Vous"),
    "chat.sender.unknown": _l("Participant"),
    "chat.received": _l("Message de {sender} : {text}"),
    "chat.too_long": _l("Votre message dépasse {max} caractères."),
    "chat.not_connected": _l("Vous n'êtes pas encore connecté à la réunion."),
    # room/lobby-panel.js (the waiting room, for moderators)
    "lobby_panel.arrival.one": _l("{name} attend dans la salle d'attente."),
    "lobby_panel.arrival.many": _l("{count} personnes attendent dans la salle d'attente."),
    "lobby_panel.admit": _l("Admettre"),
    "lobby_panel.admit.label": _l("Admettre {name}"),
    "lobby_panel.admitted": _l("{name} est admis dans la réunion."),
    "lobby_panel.admitted_all": _l("Toutes les personnes en attente ont été admises."),
    "lobby_panel.refuse": _l("Refuser"),
    "lobby_panel.refuse.label": _l("Refuser {name}"),
    "lobby_panel.refused": _l("{name} a été refusé."),
    "lobby_panel.error.http": _l("Erreur {status}"),
    "lobby_panel.decision.failed": _l(
        "La décision n'a pas pu être enregistrée ({error}). Réessayez."
    ),
    "lobby_panel.since.under_a_minute": _l("attend depuis moins d'une minute"),
    "lobby_panel.since.minutes": _l("attend depuis {minutes} min"),
    # room/moderation.js
    "moderation.end.title": _l("Terminer la réunion pour tous ?"),
    "moderation.end.detail": _l("Tous les participants seront déconnectés, vous compris."),
    "moderation.end.confirm": _l("Terminer la réunion"),
    "moderation.lock": _l("Verrouiller la salle"),
    "moderation.unlock": _l("Déverrouiller la salle"),
    "moderation.mute_all.indicator": _l("Micros coupés par les modérateurs"),
    # room/participants.js
    "participants.role.moderator": _l("modérateur"),
    "participants.role.guest": _l("invité"),
    "participants.role.participant": _l("participant"),
    "participants.someone": _l("Un participant"),
    "participants.microphone.on": _l("micro ouvert"),
    "participants.microphone.off": _l("micro coupé"),
    "participants.camera.on": _l("caméra allumée"),
    "participants.camera.off": _l("caméra coupée"),
    "participants.screen": _l("partage son écran"),
    "participants.hand.first": _l("main levée (1re)"),
    "participants.hand.nth": _l("main levée ({position}e)"),
    "participants.pinned_for_all": _l("épinglé pour tous"),
    "participants.pin_for_all": _l("Épingler pour tous"),
    "participants.pin_for_all.label": _l("Épingler pour tous : {name}"),
    "participants.pin_for_all.self": _l("Épingler pour tous : votre vidéo"),
    "participants.unpin_for_all": _l("Ne plus épingler pour tous"),
    "participants.unpin_for_all.label": _l("Ne plus épingler pour tous : {name}"),
    "participants.unpin_for_all.self": _l("Ne plus épingler pour tous : votre vidéo"),
    "participants.mute": _l("Couper son micro"),
    "participants.mute.label": _l("Couper le micro de {name}"),
    "participants.promote": _l("Nommer modérateur"),
    "participants.promote.label": _l("Nommer {name} modérateur"),
    "participants.remove": _l("Retirer"),
    "participants.remove.label": _l("Retirer {name} de la réunion"),
    "participants.remove.title": _l("Retirer {name} ?"),
    "participants.remove.detail": _l("{name} quittera la réunion et ne pourra pas y revenir."),
    "participants.hand.lower_mine": _l("Baisser ma main"),
    "participants.hand.lower": _l("Baisser la main"),
    "participants.hand.lower.label": _l("Baisser la main de {name}"),
    # room/pins.js
    "pins.refused.for_all": _l(
        "Trois personnes au plus peuvent être épinglées pour tous : retirez d'abord une épingle."
    ),
    "pins.refused.mine": _l("Vous pouvez épingler au plus trois personnes."),
    "pins.pinned.self": _l("Votre vidéo est épinglée pour tous."),
    "pins.pinned.other": _l("Vidéo de {name} épinglée pour tous."),
    "pins.pinned.someone": _l("Vidéo d'un participant épinglée pour tous."),
    "pins.unpinned.self": _l("Votre vidéo n'est plus épinglée pour tous."),
    "pins.unpinned.other": _l("La vidéo de {name} n'est plus épinglée pour tous."),
    "pins.unpinned.someone": _l("La vidéo d'un participant n'est plus épinglée pour tous."),
    # room/quality.js
    "quality.you.audio_only.server": _l(
        "Le serveur est trop chargé pour la vidéo : vous ne recevez plus que le son. "
        "La vidéo reviendra d'elle-même."
    ),
    "quality.you.audio_only.connection": _l(
        "Votre connexion est trop lente pour la vidéo : vous ne recevez plus que le son. "
        "La vidéo reviendra d'elle-même."
    ),
    "quality.you.last_n.server": _l(
        "Le serveur est très chargé : vous ne recevez la vidéo que des dernières personnes ayant "
        "parlé et des personnes épinglées. Les autres vidéos reviendront d'elles-mêmes."
    ),
    "quality.you.last_n.connection": _l(
        "Votre connexion est lente : vous ne recevez la vidéo que des dernières personnes ayant "
        "parlé et des personnes épinglées. Les autres vidéos reviendront d'elles-mêmes."
    ),
    "quality.room.server": _l(
        "La qualité vidéo est réduite pour préserver le son de tous : le serveur est très chargé."
    ),
    "quality.room.connections": _l(
        "La qualité vidéo est réduite pour préserver le son de tous : la connexion de certains "
        "participants est lente."
    ),
    "quality.room.unknown": _l(
        "La qualité vidéo est réduite pour préserver le son de tous (réseau ou serveur chargé)."
    ),
    "quality.restored": _l("Qualité vidéo rétablie."),
    # The moderators' line: "{parts}" is the texts below joined by the separator. The French
    # puts no-break spaces before ":" and ";".
    "quality.moderation.summary": _l("Qualité de la réunion\u00a0: {parts}."),
    "quality.moderation.separator": _l("\u00a0; "),
    "quality.moderation.congested.one": _l("1 connexion en difficulté"),
    "quality.moderation.congested.many": _l("{count} connexions en difficulté"),
    "quality.moderation.audio_only.one": _l("1 participant ne reçoit plus que le son"),
    "quality.moderation.audio_only.many": _l("{count} participants ne reçoivent plus que le son"),
    "quality.moderation.degraded.one": _l("1 participant reçoit moins de vidéos"),
    "quality.moderation.degraded.many": _l("{count} participants reçoivent moins de vidéos"),
    "quality.moderation.degraded.many.audio_only.one": _l(
        "{count} participants reçoivent moins de vidéos, dont {audio_only} ne reçoit plus "
        "que le son"
    ),
    "quality.moderation.degraded.many.audio_only.many": _l(
        "{count} participants reçoivent moins de vidéos, dont {audio_only} ne reçoivent plus que "
        "le son"
    ),
    "quality.moderation.cameras_lowered": _l("qualité des caméras réduite pour tous"),
    # room/tiles.js
    "tiles.show_large": _l("Afficher en grand"),
    "tiles.show_large.label": _l("Afficher en grand : {name}"),
    "tiles.show_large.screen_label": _l("Afficher en grand : {label}"),
    "tiles.screen.own": _l("Votre écran partagé"),
    "tiles.screen.of": _l("Écran de {name}"),
    "tiles.keep": _l("Épingler"),
    "tiles.keep.label": _l("Épingler {name}"),
    "tiles.pinned_for_all": _l("épinglé pour tous"),
    "tiles.paused": _l("vidéo suspendue"),
    "tiles.hand": _l("main levée"),
    "tiles.muted": _l("micro coupé"),
}


def script_messages() -> dict[str, str]:
    return {key: str(text) for key, text in MESSAGES.items()}
