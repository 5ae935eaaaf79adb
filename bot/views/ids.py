"""Every action, block and callback id the app uses, in one place so listeners and views agree."""

from __future__ import annotations

MENTOR_COMMAND = "/mentor"
ADMIN_COMMAND = "/mentor-admin"

# Buttons in the help message and Home tab.
ACTION_JOIN = "shelfmate_join"
ACTION_EDIT_PROFILE = "shelfmate_edit_profile"
ACTION_PAUSE = "shelfmate_pause"
ACTION_RESUME = "shelfmate_resume"
ACTION_CHECKIN = "shelfmate_checkin"
ACTION_LEAVE_CONFIRM = "shelfmate_leave_confirm"
ACTION_LEAVE_CANCEL = "shelfmate_leave_cancel"
ACTION_REMATCH_CHOICE = "shelfmate_rematch_choice"  # which pairing a rematch request is about

INTAKE_CALLBACK = "shelfmate_intake"
PROGRAM_CALLBACK = "shelfmate_program"

# Coordinator buttons: every handler re-checks that the clicker is an admin of the program.
ACTION_APPROVE_ALL = "shelfmate_approve_all"
ACTION_APPROVE_PAIR = "shelfmate_approve_pair"
ACTION_REJECT_PAIR = "shelfmate_reject_pair"
ACTION_OVERRIDE_PAIR = "shelfmate_override_pair"
ACTION_DISSOLVE_PAIR = "shelfmate_dissolve_pair"

# Pairs: agreements, check-ins and nudges.
AGREEMENT_CALLBACK = "shelfmate_agreement"
CHECKIN_CALLBACK = "shelfmate_checkin"
ACTION_OPEN_AGREEMENT = "shelfmate_open_agreement"
ACTION_ACCEPT_AGREEMENT = "shelfmate_accept_agreement"
ACTION_CHANGE_AGREEMENT = "shelfmate_change_agreement"
ACTION_WE_MET = "shelfmate_we_met"
ACTION_NOT_YET = "shelfmate_not_yet"
ACTION_NEED_HELP = "shelfmate_need_help"
ACTION_SURVEY = "shelfmate_survey"
SURVEY_CALLBACK = "shelfmate_survey"
