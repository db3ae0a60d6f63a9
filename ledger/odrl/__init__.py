"""ODRL 2.2 policies for the contract kinds (DESIGN §8): JSON-LD normalisation, a typed
policy model, and a pure evaluator. No I/O: the JSON-LD contexts are shipped in
``ledger/odrl/contexts/`` and the document loader refuses every other URL.

The parts and the contract between them:

- ``ledger.odrl.jsonld``: ``normalise(doc)`` expands a policy document (an ODRL
  ``Offer``/``Agreement``/``Set`` as EDC and the Dataspace Protocol write it) with pyld and
  compacts it against our own fixed context into the **normalised form** below, so that a
  compact ``odrl:eq``, ``{"@id": "odrl:eq"}`` and the full IRI are one term.
  ``first_difference(a, b)`` names the first place where the rules of two normalised
  policies differ (rule arrays are sets; ``andSequence`` is ordered), or returns None.
- ``ledger.odrl.policy``: ``parse_policy(normalised)`` turns the normalised form into the
  typed ``Policy``; ``InvalidRecord`` for what is not well-formed ODRL (a rule without an
  action, nesting deeper than ``MAX_DEPTH``).
- ``ledger.odrl.evaluate``: ``evaluate(policy, facts)`` gives a ``Verdict`` —
  ``permitted``, ``violation`` (naming the rule, the constraint and the value compared)
  or ``undetermined`` (a left operand or operator the evaluator does not implement;
  never silently ``permitted``). ``unsupported(policy)`` lists those terms.

**Normalised form** (plain JSON; every key optional unless said):

    {"@id": str, "@type": str,               # "Offer", "Agreement", "Set", "Policy", "Request" or an IRI
     "profile": [str], "target": str, "assigner": str, "assignee": str, "timestamp": str,
     "permission": [Rule], "prohibition": [Rule], "obligation": [Rule]}
    Rule       = {"action": Action, "target": str, "assigner": str, "assignee": str,
                  "constraint": [Constraint], "duty": [Rule],   # duty: in a permission
                  "remedy": [Rule], "consequence": [Rule]}      # remedy: prohibition; consequence: duty
    Action     = str | {"value": str, "refinement": [Constraint]}
    Constraint = {"leftOperand": str, "operator": str, "rightOperand": Value | [Value],
                  "unit": str, "dataType": str}
               | {"and" | "or" | "xone": [Constraint]} | {"andSequence": [Constraint]}  # andSequence keeps order
    Value      = str | int | float | bool | {"@value": str, "@type": str} | {"@id": str}

Terms of the ODRL vocabulary (``http://www.w3.org/ns/odrl/2/``) — actions, operators, left
operands, policy and rule types — are their bare names (``"use"``, ``"eq"``,
``"dateTime"``); any other term is its full IRI. Party, asset and profile values are the
full IRI or the string as written when it is not an IRI (``"provider"``). Every array above
is a JSON array even with one member; empty arrays and absent keys are the same and are
left out.
"""
