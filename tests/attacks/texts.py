"""What the hostile insider wants out, and text that must stay clean.

SECRET is plain English prose (the rewrite tier needs real sentences); excerpts are
taken from its middle, so neither end of the registered document helps the matcher.
"""

from __future__ import annotations

SECRET = """\
The Halcyon coating process begins when the operator charges the epoxy resin and half of the butyl acetate \
into the large disperser and starts the blade slowly under a blanket of dry nitrogen. The molecular sieve goes \
in first, and the batch is held for twenty minutes so that the residual moisture is captured before any pigment \
is added. Only then does the operator add the Mistral dispersant, followed by the titanium dioxide and the \
modified zinc phosphate, and raise the blade to its full grinding speed.

The temperature of the batch must stay below forty five degrees throughout the grind, which is why the jacket \
cooling opens automatically at forty degrees. When the grind gauge reads six, the blade drops back to a gentle \
stir and the polysiloxane intermediate is let down over fifteen minutes, because a faster addition makes the \
network gel in the pail within a week.

The micaceous iron oxide is added last and stirred for ten minutes only, since longer stirring breaks the \
lamellar flakes and ruins the barrier effect that gives the topcoat its salt spray performance. The wax paste \
is activated between thirty eight and forty two degrees for twenty five minutes, after which the viscosity is \
adjusted with xylene and the batch is filtered through fine bags into lined pails under nitrogen.

Our customers in the offshore wind market pay a premium for a single coat that reaches handling strength at \
five degrees within eight hours. No competitor has matched that cure speed at low temperature, and the secret \
lies in the ratio between the silane coupling agent and the titanium catalyst in the hardener. That ratio, \
three parts of accelerator to one and a half parts of catalyst, was found after two years of trials at the \
Saltmarsh pilot line and must never be disclosed outside the coatings chemistry group.

Batches that fail the cup test are returned to the mixer with half a part of thinner and tested again, and a \
batch that fails twice is scrapped and its lot number reported to quality assurance. The pilot line keeps a \
record of every deviation, signed by the group lead, and the record is reviewed at the end of each quarter \
together with the yield figures of the plant in Rotterdam.
"""

WORDS = SECRET.split()


def excerpt(n: int, start: int = 40) -> list[str]:
    """n consecutive words of the secret, from the middle of it."""
    return WORDS[start : start + n]


UNRELATED = """\
Dear team, thanks again for a productive offsite last week. As promised, here is a short summary of what we \
agreed. First, the quarterly planning cycle moves to the second week of each quarter so that finance can close \
the books before we commit to new budgets. Second, the hiring freeze for the support organisation ends in March, \
and we will open three positions in Lisbon and two in Warsaw. Third, the customer advisory board meets in \
Amsterdam in May; please send suggestions for agenda topics to Maria by the end of the month. Finally, remember \
that the office will be closed on the public holiday, and the cafeteria menu is changing to include more \
vegetarian options after the survey results. Let me know if I missed anything, and enjoy the weekend.
"""

# Unrelated text about the same trade (paint, pails, batches): the hard case for false positives.
NEAR_TOPIC = """\
For the spring open day the visitors walk through the paint shop, where the new spray booth and the drying \
tunnel are on show. Please keep the route clear of pails and pallets, and ask the shift to stop the mixers \
while the group passes, since the noise makes any explanation impossible. The quality team will show how a \
finished panel is checked for gloss and thickness, and the canteen serves coffee and cake from ten o'clock. \
Safety shoes and glasses are handed out at the gate; visitors without them stay on the marked walkway.
"""

CODENAMES = """\
# programme code names and part numbers
Project Halcyon
Bluefin resin
Mistral dispersant
Saltmarsh line
HX-4471-B
BF-220
FR-118
"""

STAFF_CSV = """\
employee_id,name,email,phone,birth_date,city
EMP-20417,Björn Ågren,bjorn.agren@brackenridge.example.com,+46 8 555 123 45,1984-03-07,Stockholm
EMP-20418,Zoë Çelik-Müller,zoe.celik@brackenridge.example.com,+49 30 5550 1234,1979-11-23,Berlin
EMP-20419,Siobhán O'Neill,siobhan.oneill@brackenridge.example.com,+353 1 555 0199,1990-01-02,Dublin
EMP-20420,Greta Marie Lindqvist,greta.lindqvist@brackenridge.example.com,+46 190 861 340,1988-06-15,Uppsala
EMP-20421,José Ramírez,jose.ramirez@brackenridge.example.com,+34 91 555 0178,1975-12-31,Madrid
"""
STAFF_COLUMNS = "employee_id:id,name:name,email:email,phone:phone,birth_date:date"
