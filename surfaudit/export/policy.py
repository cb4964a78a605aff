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


def load_policy(org) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    """The title and clauses the HTML export quotes: `[policy]` or
    the shipped ones above.

    The clauses file is UTF-8 text in blocks separated by blank lines: the policy's
    heading on the first line, the quoted sentence(s) next, and, when the block has
    three lines or more, how the report relates to it on the last line. A file with
    no block, or a block with only a heading, is a ConfigError naming file and line.
    """
    from surfaudit.errors import ConfigError

    name = org.policy_name or (POLICY_TITLE if org.policy_clauses is None else "")
    title = f"{name} ({org.policy_date})" if name and org.policy_date else (name or org.policy_date or POLICY_TITLE)
    if org.policy_clauses is None:
        return title, CLAUSES
    path = org.policy_clauses
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: [policy].clauses: cannot read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    blocks, current, start = [], [], 0
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line.strip())
        elif current:
            if len(current) < 2:
                raise ConfigError(f"{path}: line {start}: a clause needs a heading and the quoted text")
            quote = " ".join(current[1:-1]) if len(current) >= 3 else current[1]
            relates = current[-1] if len(current) >= 3 else ""
            blocks.append((current[0], quote, relates))
            current = []
    if not blocks:
        raise ConfigError(f"{path}: line 1: no clauses (blocks of heading, quote, relation, separated by blank lines)")
    return title, tuple(blocks)
