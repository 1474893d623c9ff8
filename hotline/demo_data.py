"""The demo estate: a few residents, their arrears, and what each simulated caller does."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.pbxsim.fastagi import HangUp, Input, Keys, Silence, Speak

RESIDENTS_CSV = """unit,name,phone,phone2,lang,do_not_call
3-1-201,张伟,13800138000,,zh,no
5-2-1101,张伟,13800138000,,zh,no
3-1-202,Li Na,13900001111,,en,no
3-2-301,王芳,13700002222,02161234567,zh,no
7-1-101,赵敏,13600003333,,zh,yes
8-3-502,陈杰,13500004444,,zh,no
"""

ARREARS_CSV = """unit,amount,months
3-2-301,1280.50,3
8-3-502,455.00,1
"""

GREETING = [Silence()]  # lets the language hint pass
KEEP_UNIT: list[Input] = [Silence()]  # "if this is right press 1": no key keeps the unit


@dataclass(frozen=True)
class Scenario:
    title: str
    number: str | None
    name: str | None
    inputs: list[Input]


INBOUND: list[Scenario] = [
    Scenario(
        "a leak, reported by a known resident",
        "13700002222",
        "王芳",
        [*GREETING, *KEEP_UNIT, Keys("1"), Keys("1"), Speak(7.0), Keys("1")],
    ),
    Scenario(
        "two units on one number: the caller picks the second, a noise complaint",
        "13800138000",
        "张伟",
        [*GREETING, Keys("2"), Keys("2"), Keys("2"), Speak(9.0), Keys("2")],
    ),
    Scenario(
        "an English speaker reports a broken door lock",
        "13900001111",
        "Li Na",
        [*GREETING, *KEEP_UNIT, Keys("1"), Keys("5"), Speak(5.0), Keys("1")],
    ),
    Scenario(
        "an unknown number keys in its unit, then asks about fees",
        "13122223333",
        None,
        [*GREETING, Keys("3*2*301#"), Keys("3"), Silence()],
    ),
    Scenario(
        "a caller hangs up while describing a plumbing problem",
        "13500004444",
        "陈杰",
        [*GREETING, *KEEP_UNIT, Keys("1"), Keys("4"), Speak(4.0, hang_up=True)],
    ),
    Scenario(
        "a withheld number presses wrong keys and reaches an agent",
        None,
        None,
        [*GREETING, Keys("1*1*1#"), Keys("2*2*2#"), Keys("3*3*3#")],
    ),
    Scenario(
        "a resident asks for staff straight away",
        "13900001111",
        "Li Na",
        [*GREETING, *KEEP_UNIT, Keys("0")],
    ),
    Scenario(
        "a complaint about a member of staff; the caller hangs up after",
        "13700002222",
        "王芳",
        [*GREETING, *KEEP_UNIT, Keys("2"), Keys("1"), Speak(12.0), Keys("1"), HangUp()],
    ),
]

# Outbound: what each simulated resident does when the dialer's call reaches them.
FOLLOWUP_ANSWERS: dict[str, list[Input]] = {
    # satisfied: 5, the work was done properly, a short comment
    "13700002222": [Keys("5"), Keys("1"), Speak(3.0)],
    # unsatisfied: 2, not done properly, a complaint in their own words: reopened as a complaint
    "13900001111": [Keys("2"), Keys("2"), Speak(6.0)],
}
ARREARS_ANSWERS: list[list[Input]] = [[Keys("1")], [Keys("3")], [Keys("2")], [Silence()]]
AGENTS = ("PJSIP/agent101", "PJSIP/agent102", "PJSIP/agent103")
ARREARS_ESTATE = 36  # residents of building 9 behind with their fees, for the predictive run


def arrears_estate_csv() -> tuple[str, str]:
    """Building 9's residents and what each owes: enough calls for the pacer to work with."""
    residents = ["unit,name,phone"]
    arrears = ["unit,amount,months"]
    for n in range(ARREARS_ESTATE):
        unit = f"9-{n % 3 + 1}-{(n // 3 + 1) * 100 + n % 3 + 1}"
        residents.append(f"{unit},住户{n + 1},1591000{n:04d}")
        arrears.append(f"{unit},{300 + 17 * n}.00,{n % 4 + 1}")
    return "\n".join(residents) + "\n", "\n".join(arrears) + "\n"
