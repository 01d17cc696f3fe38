"""Counts of the moves that make a prompt indirect or obfuscated, whatever it is about.

The n-grams and embeddings of the detector learn the wording of the families they were trained
on; a new family of code words or a new pretext slips past them. What such prompts share is a
handful of moves, and these are counted here, on wording that names the move and never the topic:

- a stated substitution map: `"x" means y`, `let 'blue' = ...`, `in our code ... stands for`,
  `A = ...; B = ...`, `read X as Y`, `when I say X I mean Y`, arrows between terms;
- distancing: a hypothetical, a third person or a fiction stands between the asker and the ask
  (`suppose someone`, `a friend of mine`, `in a novel`, `Person X`, `what if`);
- a pretext: a study, poster, quiz, review or plain curiosity given as the reason to ask;
- decomposition: the request cut into innocent sub-questions (`1) ... 2) ...`, `step 1`,
  `the first part ... the rest later`), and how many questions the prompt asks;
- the share of first-person words: direct prompts mostly ask for the asker ("how can I");
- an inverted ask: the request turned inside out so that it reads as prevention or assessment
  (`what mistakes should one avoid`, `what would give it away`, `which ... would be most`,
  `so we can spot it`, `what would it look like`).

Plain questions use some of these words too ("what does NPO stand for?", "a friend of mine has
lupus"), so each cue is a count the classifier weighs, never a rule. Standard library and numpy only.
"""

from __future__ import annotations

import math
import re

import numpy as np

CUE_NAMES: tuple[str, ...] = (
    "substitution_map",  # log(1 + stated substitutions: "x" means y, let x = y, x stands for y, A = ..., X -> Y)
    "distancing",  # log(1 + hypothetical, third-person or fictional framings)
    "pretext",  # log(1 + stated reasons to ask: a study, a poster, a quiz, a review, curiosity)
    "decomposition",  # log(1 + list markers and "one part at a time" phrasing)
    "question_marks",  # log(1 + question marks)
    "first_person",  # share of words that are I, me, my, mine, myself
    "inverted_ask",  # log(1 + asks turned inside out: what mistakes to avoid, what would give it away, which would be most)
)

_Q = "\"'\u2018\u2019\u201c\u201d\u00ab\u00bb`"
# Not an apostrophe inside a word ("it's ... don't"): a quote opens after and closes before a non-letter.
_QUOTED = rf"(?<![^\W\d_])[{_Q}][^{_Q}\n]{{1,40}}[{_Q}](?![^\W\d_])"
_ARROW = r"(?:=|:=|->|=>|\u2192|\u21d2|\u27f6)"
_MAP_VERB = (r"(?:means?|meant|is|are|=|:=|->|=>|\u2192|\u21d2|stands? for|is code for|is short for|refers? to|"
             r"is (?:our|my|the) (?:word|name|code) for|is what (?:we|i) call|translates? (?:to|as))")

_SUBSTITUTION = [
    # a quoted term, maybe with a gloss in brackets, then what it stands for
    re.compile(rf"{_QUOTED}\s*(?:\([^)]{{0,60}}\)\s*)?{_MAP_VERB}", re.IGNORECASE),
    # let x = y / let x be y / let x mean y
    re.compile(rf"\blet\s+{_QUOTED}|\blet\s+\w+\s*(?:{_ARROW}|\bbe\b|\bmean\b|\bdenote\b)", re.IGNORECASE),
    # a token, placeholder, bracketed number or symbol assigned a meaning: A = ..., <<X>> = ..., [1] ...
    re.compile(rf"(?:^|[\s;,(.:])(?:[^\W\d_][\w-]{{0,20}}|<<?\w+>>?|\[\d+\]|[^\w\s]{{1,3}})\s*{_ARROW}\s*\S", re.IGNORECASE),
    re.compile(
        r"\b(?:in (?:our|my|this|the) code|code ?words?|codenames?|code names?|call ?signs?|glossary|dictionary|"
        r"legend|cipher|decode|the key|key:|substitut\w*|swap (?:these|the following|every|each|before)|"
        r"replace (?:every|each|all)|read (?:[^\s,.;:]+\s){1,4}(?:as|backwards|in reverse)|reversed?|backwards|"
        r"when i say|by [^\s,.;:]+ i mean|we call|i call|stands? for|is code for|refers? to|"
        r"(?:german|french|spanish|latin|italian|dutch)(?: word)? for)\b",
        re.IGNORECASE,
    ),
]

_DISTANCING = re.compile(
    r"\b(?:suppos(?:e|ing)|imagin(?:e|ing)|hypothetical(?:ly)?|in theory|theoretical(?:ly)?|what if|"
    r"what would happen if|let'?s say|say (?:someone|a person)|some(?:one|body)|any(?:one|body) who|"
    r"a (?:person|character|man|woman|patient) who|characters?|(?:a|my) (?:friend|colleague|cousin|neighbou?r|relative)"
    r"(?: of mine)?|friend of mine|asking for a friend|(?:in|for) (?:a|my|the|this) (?:novel|story|book|film|movie|"
    r"screenplay|script|thriller|drama|game|play)|fictional|person [a-z]\b|(?:patient|worker|carer|practitioner|"
    r"surgeon|blogger|user|doctor|nurse) [a-z]\b|in (?:a|an) (?:world|scenario|universe)|scenario|purely|in principle|"
    r"in general(?: terms)?|generally speaking|in the abstract|historically|in (?:the )?past(?: cases)?|"
    r"past cases|people (?:who|in|like)|historical|in (?:past|previous|earlier|known|reported|documented) (?:[\w-]+ ){0,2}"
    r"cases|have there (?:ever )?been cases|looking back|from what (?:\w+ ){0,3}(?:have|has) (?:described|reported|said)|"
    r"how (?:have|did) (?:\w+ ){1,4}(?:in the past|historically|managed to|got away with))\b",
    re.IGNORECASE,
)

_PRETEXT = re.compile(
    r"\b(?:for (?:a|an|my|our|the) (?:[\w'\u2019-]+ ){0,3}(?:project|assignment|essay|thesis|dissertation|coursework|class|"
    r"course|module|paper|report|presentation|poster|leaflet|quiz|campaign|blog|research|study|training|article|"
    r"debate|exam|lesson|workshop|chapter|handbook|textbook|syllabus|curriculum|case study|seminar|tutorial|webinar|"
    r"podcast|newsletter|guide|manual|checklist|slide deck|talk|drill|simulation|exercise|question bank|flashcards?|"
    r"test paper|viva|literature review|briefing|exhibit)|"
    r"(?:thesis|dissertation|chapter|exam|quiz|viva|seminar|tutorial|textbook|coursework|case study|training|ethics|"
    r"governance|compliance|actuarial|operations|market(?:ing)?|research|safeguarding|audit|security|journalism) "
    r"(?:question|chapter|module|scenario|exercise|case|section|paper|brief)s?|model answer|exam question|"
    r"quiz question|multiple[- ]choice|red[- ]team(?:ing)?|tabletop|threat model(?:ling|ing)?|risk register|"
    r"(?:i|we) (?:run|teach|lead|chair|sit on|moderate|supervise|coordinate|edit|mark|grade|examine|set) "
    r"(?:a|an|the|our|my|some)\b|to (?:strengthen|design|improve|build|test|tighten|harden) (?:our|the|a|their)\b|"
    r"knowing (?:the method|how it is done|how it's done)|"
    r"posters?|leaflets?|awareness|quiz|trivia|curious|curiosity|just wondering|"
    r"wondering|out of interest|no plans|for realism|realism|realistic(?:ally)?|(?:research|educational|academic) "
    r"purposes|academic|we(?:'re| are) (?:reviewing|auditing|testing|making|writing|designing|preparing|mapping)|"
    r"i(?:'m| am) (?:writing|making|designing|preparing|doing|putting together|setting)|asking (?:only )?"
    r"(?:out of|for)|so (?:we|people|staff|readers|members|the class) (?:can|know|understand)|"
    r"to (?:warn|show|help|teach) (?:people|staff|readers|members|others)|audit(?:ing)?|review(?:ing)?)\b",
    re.IGNORECASE,
)

# The ask turned inside out: what to avoid, what would give it away, which way would work best.
_INVERTED = re.compile(
    r"\b(?:what (?:\w+ ){0,2}(?:mistakes|errors|pitfalls|slip-?ups|red flags|warning signs|giveaways|tells|"
    r"loopholes|gaps|weak (?:points|spots)|blind spots|vulnerabilities|tell-?tale signs)|"
    r"(?:mistakes|errors|pitfalls|slip-?ups) (?:to avoid|(?:that )?(?:people|they|one|someone|beginners) (?:make|made))|"
    r"what (?:would|could|might|usually|typically) (?:go wrong|give (?:it|them|him|her|someone|the game) away|"
    r"tip (?:off|them off)|raise (?:suspicion|a flag|eyebrows)|get (?:noticed|flagged|caught)|be missed|slip through)|"
    r"what (?:should|would|do|does) (?:one|people|someone|they|a person|he|she|the \w+) (?:avoid|never do|"
    r"watch out for|steer clear of|be careful (?:about|of|not to))|what to avoid|(?:things|steps) to avoid|"
    r"which (?:[\w-]+ ){0,5}(?:would|is|are|tends? to be|might be) (?:the )?(?:most|least|best|easiest|hardest|"
    r"quickest|safest)|(?:most|least) (?:likely to (?:work|succeed|go unnoticed|be noticed|be caught|be detected)|"
    r"effective|convincing|persuasive|noticeable|detectable|traceable|reliable)|"
    r"(?:go|went|goes|slip|slips|pass|passes) (?:unnoticed|undetected|under the radar)|"
    r"how (?:would|could|do|does|might) (?:one|someone|a person|they|investigators|auditors|inspectors|staff|we|you) "
    r"(?:spot|detect|notice|catch|tell|recognise|recognize|uncover)|what (?:it|that|this) would look like|what would (?:it|that|this) look like|"
    r"what (?:to|we should) look (?:out )?for|so (?:that )?(?:we|i|staff|they|people|the team|managers|inspectors|"
    r"auditors|reviewers|regulators|parents|teachers) (?:can|could|know how to) "
    r"(?:spot|catch|detect|prevent|recognise|recognize|stop|avoid)|(?:in order )?to (?:prevent|catch|detect|spot) "
    r"(?:it|this|them|that)|common (?:ways|methods|tactics|tricks))\b",
    re.IGNORECASE,
)

_DECOMPOSITION = [
    re.compile(r"(?:^|\s)(?:\(?[1-9a-d]\)|[1-9][.:](?=\s)|\(?[ivx]{1,3}\))", re.IGNORECASE),
    re.compile(
        r"\b(?:step (?:\d|one|two|three)|part (?:\d|one|two|three)|first(?:ly)?,|second(?:ly)?,|third(?:ly)?,|"
        r"one (?:part|piece|step|question|thing) at a time|(?:the )?first (?:part|bit|piece|step|question)|"
        r"(?:the )?(?:rest|remainder) (?:later|next|after|another time)|(?:ask|do) the rest|"
        r"(?:separate|unrelated|different) (?:questions|things)|a few (?:questions|things)|"
        r"(?:two|three|four|several|a couple of|couple of|some) (?:short |quick |unrelated |separate |small )?"
        r"(?:questions|things)|break (?:this|it) (?:into|down)|in (?:parts|steps|pieces)|step by step)\b",
        re.IGNORECASE,
    ),
]

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_FIRST_PERSON = {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"}


def cue_vector(clean: str) -> np.ndarray:
    """The cue counts of one text, already NFKC-normalised with whitespace collapsed, in CUE_NAMES order."""
    out = np.zeros(len(CUE_NAMES), dtype=np.float64)
    if not clean:
        return out
    out[0] = math.log1p(sum(len(pattern.findall(clean)) for pattern in _SUBSTITUTION))
    out[1] = math.log1p(len(_DISTANCING.findall(clean)))
    out[2] = math.log1p(len(_PRETEXT.findall(clean)))
    out[3] = math.log1p(sum(len(pattern.findall(clean)) for pattern in _DECOMPOSITION))
    out[4] = math.log1p(clean.count("?"))
    words = [w.casefold().replace("\u2019", "'") for w in _WORD.findall(clean)]
    out[5] = sum(1 for w in words if w in _FIRST_PERSON) / max(len(words), 1)
    out[6] = math.log1p(len(_INVERTED.findall(clean)))
    return out
