"""The beneficiary travel agreement a patient accepts before a claim is filed for them.

Its wording follows the VA's own day-of check-in (vets-website's travel review page: the penalty
statement, the five statements certified true, the confirming checkbox), adapted to a clinic. Each
wording has a version and a language; the claim stores the version, the language code and the
plain text exactly as shown, so what the patient agreed to can be read back after the wording changes.
A new wording is a new version: never edit a published one. The wordings are kept here per language,
not in the gettext catalogs, because a catalog update would change what a version says.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    version: str
    language: str  # BCP 47 code of the wording
    title: str
    penalty: str
    by_filing: str
    intro: str
    statements: tuple[str, ...]
    confirm: str

    def as_text(self) -> str:
        """The wording as stored with a claim: what the page showed, in reading order."""
        lines = [self.title, "", self.penalty, "", self.by_filing, "", self.intro]
        lines += [f"- {statement}" for statement in self.statements]
        lines += ["", f"[x] {self.confirm}"]
        return "\n".join(lines)


CURRENT_VERSION = "2025-1"
DEFAULT_LANGUAGE = "en"

_AGREEMENTS = {
    ("2025-1", "en"): Agreement(
        version="2025-1", language="en",
        title="Beneficiary travel agreement",
        penalty=("Penalty statement: There are severe criminal and civil penalties, including a fine, or "
                 "imprisonment, or both, for knowingly submitting a false, fictitious, or fraudulent claim."),
        by_filing="By filing this claim, you agree to the beneficiary travel agreement.",
        intro="Please review and certify the statements are true:",
        statements=(
            "I have incurred a cost in relation to the travel claim.",
            "I have neither obtained transportation at public expense nor through the use of public requests, "
            "tickets, or tokens, and have not used any publicly owned conveyance or incurred any expenses which "
            "may be presented as charges against the health service for transportation, meals, or lodgings in "
            "connection with my authorized travel that is not herein claimed.",
            "I have not received other transportation resources at no cost to me.",
            "I am the only person claiming for the travel listed.",
            "I have not previously received payment for the transportation claimed.",
        ),
        confirm=("I confirm that the information is true and correct to the best of my knowledge and belief. "
                 "I’ve read and I accept the beneficiary travel agreement."),
    ),
    ("2025-1", "nb"): Agreement(
        version="2025-1", language="nb",
        title="Avtale om reiserefusjon",
        penalty=("Advarsel om straff: Å sende inn et krav du vet er uriktig, oppdiktet eller falskt, kan gi "
                 "strenge straffe- og erstatningsrettslige følger, blant annet bot eller fengsel, eller begge deler."),
        by_filing="Når du sender inn dette kravet, godtar du avtalen om reiserefusjon.",
        intro="Les gjennom og bekreft at dette stemmer:",
        statements=(
            "Jeg har hatt utgifter til reisen kravet gjelder.",
            "Jeg har ikke fått reisen betalt av det offentlige, heller ikke med offentlige rekvisisjoner, "
            "billetter eller kuponger, og jeg har ikke brukt offentlig eid transport eller hatt utgifter til "
            "transport, måltider eller overnatting i forbindelse med den godkjente reisen som kan kreves dekket "
            "av helsetjenesten, og som ikke er tatt med i dette kravet.",
            "Jeg har ikke fått annen transport gratis.",
            "Jeg er den eneste som krever refusjon for denne reisen.",
            "Jeg har ikke tidligere fått betalt for reisen jeg krever refusjon for.",
        ),
        confirm=("Jeg bekrefter at opplysningene er riktige og fullstendige etter beste evne og overbevisning. "
                 "Jeg har lest og godtar avtalen om reiserefusjon."),
    ),
}


def current_agreement(language: str | None = None) -> Agreement:
    """The wording patients agree to now, in `language` when we have it (else English)."""
    return _AGREEMENTS.get((CURRENT_VERSION, language or DEFAULT_LANGUAGE)) or \
        _AGREEMENTS[(CURRENT_VERSION, DEFAULT_LANGUAGE)]


def agreement(version: str, language: str) -> Agreement | None:
    """A published wording, for reading back what a claim's patient agreed to."""
    return _AGREEMENTS.get((version, language))
