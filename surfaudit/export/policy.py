"""The policy sentences an investigation report relates to, quoted verbatim.

Why constants: the trust's policy document (Learning Trust for Excellence,
"Social Media Policy", last amended September 2019) is not shipped with the
tool, but a manager reading the report needs the rules next to the numbers.
Each entry names the policy's own heading so the reader can find the full
text. Update these if the trust amends its policy.
"""

from __future__ import annotations

POLICY_TITLE = "Learning Trust for Excellence \u2014 Social Media Policy (last amended September 2019)"

# (policy heading, verbatim quote, how the report relates to it)
CLAUSES: tuple[tuple[str, str, str], ...] = (
    (
        "Use of social media at work",
        "Employees must limit their use of social media to their official rest breaks such as their "
        "lunch break/times when they are between [jobs/appointments], for example travelling/times when "
        "they are not on duty",
        "The report separates time in official breaks and outside work hours (permitted) from time "
        "inside work hours outside breaks (the \u201coutside breaks\u201d figure).",
    ),
    (
        "Use of social media at work",
        "However, the organisation has specifically blocked use of Facebook and some other social media "
        "websites on its computers via the SurfProtect firewall as they are not deemed to be of "
        "educational value to our schools.",
        "The blocked-attempts table counts requests the web filter refused.",
    ),
    (
        "Excessive use of social media at work",
        "Employees should not spend an excessive amount of time while at work using social media websites.",
        "Days at or over the flag threshold are marked; the threshold is a screening aid, not a finding.",
    ),
    (
        "Monitoring use of social media during work time",
        "The organisation reserves the right to monitor employees' internet usage, but will endeavour to "
        "inform an affected employee when this is to happen and the reasons for it.",
        "This report was produced for the reason stated at the top, which is recorded in the audit log.",
    ),
    (
        "Monitoring use of social media during work time",
        "The organisation reserves the right to retain information that it has gathered on employees' use "
        "of the internet for a period of [one year].",
        "Keep this file only as long as the investigation needs it, and no longer than the policy allows.",
    ),
    (
        "Disciplinary action over social media use",
        "Employees should note that any breaches of this policy may lead to disciplinary action.",
        "Any action should rest on the employee's account as well as on this estimate.",
    ),
)
