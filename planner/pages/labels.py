"""Readable labels for the profile vocabularies (planner.domain.model).

The vocabularies themselves are the domain's; this module only says how a
person reads each word on a page. ``tests/test_views.py`` checks that every
word of every vocabulary has a label here, so a new word cannot reach the
form as a bare identifier.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "sex": {
        "female": "Female",
        "male": "Male",
        "unspecified": "Prefer not to say",
    },
    "life_stage": {
        "none": "Not pregnant or breastfeeding",
        "pregnant": "Pregnant",
        "lactating": "Breastfeeding",
    },
    "diet": {
        "vegan": "Vegan (no animal foods)",
        "vegetarian": "Vegetarian (milk and eggs, no meat or fish)",
        "pescatarian": "Pescatarian (fish, milk and eggs, no meat)",
        "omnivore": "Omnivore (eats everything)",
    },
    "guideline": {
        "us": "US/Canada, IOM 1998 (also WHO, NHMRC values)",
        "efsa": "EU, EFSA 2015",
        "dach": "Germany/Austria/Switzerland, D-A-CH 2018",
        "nnr": "Nordic countries, NNR 2023",
        "uk": "United Kingdom, COMA 1991",
        "who": "WHO/FAO 2004",
    },
    "market": {
        "us": "United States",
        "uk": "United Kingdom",
        "eu": "European Union",
        "any": "Elsewhere (only foods sold everywhere)",
    },
    "frequency": {
        "daily": "Daily",
        "weekly": "Weekly",
        "injection": "Injections from a doctor",
    },
    "feeding": {
        "breast": "Breastfed",
        "formula": "Formula-fed",
        "mixed": "Breast milk and formula",
        "solids": "Eats solid food",
    },
    "lab_test": {
        "serum_b12": "Serum B12 (total B12)",
        "holotc": "Active B12 (holoTC)",
        "mma": "Methylmalonic acid (MMA)",
        "homocysteine": "Homocysteine",
        "folate": "Serum folate",
    },
    "lab_status": {
        "low": "Low",
        "borderline": "Borderline",
        "normal": "Normal",
        "high": "High",
    },
    "allergies": {
        "milk": "Milk",
        "egg": "Egg",
        "fish": "Fish",
        "shellfish": "Shellfish",
        "gluten": "Gluten",
        "soy": "Soy",
        "tree_nut": "Tree nuts",
        "peanut": "Peanuts",
        "sesame": "Sesame",
    },
    "medications": {
        "metformin": "Metformin (for diabetes)",
        "ppi": "Proton-pump inhibitor for stomach acid (omeprazole, lansoprazole…)",
        "h2_blocker": "H2 blocker for stomach acid (famotidine…)",
        "colchicine": "Colchicine (for gout)",
        "nitrous_oxide": "Nitrous oxide (“laughing gas”), recreational use",
        "antiepileptic": "Anti-epileptic medicine (phenobarbital, primidone, topiramate…)",
        "long_term_antibiotics": "Antibiotics taken long term",
    },
    "conditions": {
        "pernicious_anemia": "Pernicious anaemia (autoimmune gastritis)",
        "atrophic_gastritis": "Atrophic gastritis",
        "gastritis": "Gastritis or H. pylori infection",
        "low_stomach_acid": "Low stomach acid",
        "crohns_disease": "Crohn’s disease",
        "ileal_resection": "Part of the small bowel (ileum) removed",
        "gastric_bypass": "Gastric bypass or other weight-loss surgery",
        "gastrectomy": "Stomach removed, fully or partly (gastrectomy)",
        "celiac_disease": "Coeliac disease",
        "h_pylori": "H. pylori infection",
        "sleeve_gastrectomy": "Sleeve gastrectomy (weight-loss surgery)",
        "pancreatic_insufficiency": "Pancreatic insufficiency",
        "type1_diabetes": "Type 1 diabetes",
        "autoimmune_thyroid": "Autoimmune thyroid disease (Hashimoto's, Graves')",
    },
    "symptoms": {
        "tingling": "Pins and needles, tingling",
        "numbness": "Numbness",
        "burning_pain": "Burning pain in hands or feet",
        "fatigue": "Extreme tiredness",
        "weakness": "Muscle weakness",
        "memory_problems": "Memory problems, “brain fog”",
        "confusion": "Confusion",
        "depression": "Low mood or depression",
        "irritability": "Irritability",
        "sore_tongue": "Sore, red tongue or mouth ulcers",
        "balance_problems": "Unsteady walking or balance problems",
        "vision_problems": "Disturbed vision",
        "joint_pain": "Joint pain",
        "leg_pain": "Aching or painful legs",
        "pale_skin": "Pale or pale-yellow skin",
        "shortness_of_breath": "Shortness of breath",
        "breathless_at_rest": "Breathless even at rest",
        "chest_pain": "Chest pain",
        "pain_when_walking": "Cramping leg pain when walking that eases with rest",
        "morning_stiffness": "Stiff joints in the morning",
        "joint_swelling": "Swollen joints",
        "saddle_numbness": "Numbness between the legs or around the bottom, with leg or back pain",
    },
    "meal": {
        "breakfast": "Breakfast",
        "lunch": "Lunch",
        "dinner": "Dinner",
        "snack": "Snack",
        "snack_2": "Second snack",
    },
    "field": {
        "age_years": "Age",
        "sex": "Sex",
        "life_stage": "Pregnancy or breastfeeding",
        "diet": "Diet",
        "allergies": "Allergies",
        "include_foods": "Foods you buy",
        "include_dishes": "Dishes you like",
        "exclude_dishes": "Dishes to leave out",
        "exclude_foods": "Foods to leave out",
        "medications": "Medicines",
        "conditions": "Conditions",
        "symptoms": "Symptoms",
        "supplement_dose_ug": "Supplement dose",
        "supplement_frequency": "Supplement frequency",
        "accept_supplement": "Supplement suggestions",
        "supplement_every_weeks": "Weeks between injections",
        "labs": "Lab results",
        "folic_acid_ug": "Folic acid a day",
        "months_without_b12": "Months without a B12 source",
        "feeding": "Baby's feeding",
        "mother_diet": "Mother's diet",
        "mother_takes_b12": "Mother takes B12",
        "guideline": "Guideline",
        "market": "Where you shop",
        "meals_per_day": "Meals per day",
        "days": "Days",
        "week": "Week",
    },
    "flag": {
        "medical_check": "Medical check",
        "malabsorption": "Absorption problem",
        "differential": "Pain to discuss with a doctor",
        "supplement": "Supplement",
    },
}


def label(kind: str, value: str | None) -> str:
    """The readable label of ``value`` in vocabulary ``kind`` (falls back to the word)."""
    if value is None:
        return ""
    return LABELS.get(kind, {}).get(value) or str(value).replace("_", " ").capitalize()


def amount_ug(value: float | None) -> str:
    """A B12 amount with its unit: two decimals below 100 µg, none above (``2000 µg``)."""
    if value is None:
        return "–"
    return f"{value:.0f} µg" if abs(value) >= 100 else f"{value:.2f} µg"


# Lab result fields of the form (issue 14): lab_<test>_value, _unit, _date.
for _test, _name in LABELS["lab_test"].items():
    LABELS["field"][f"lab_{_test}_value"] = f"{_name}: result"
    LABELS["field"][f"lab_{_test}_unit"] = f"{_name}: unit"
    LABELS["field"][f"lab_{_test}_date"] = f"{_name}: date"
