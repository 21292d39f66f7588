"""The fixed set of benchmark profiles for ``plan_bench.py`` and the MILP cache.

Every profile plans 7 days. Together they cover every diet, ages from
toddlers to the very old, pregnancy and lactation, all guideline bodies,
allergies, exclusions, own food lists (including lists too small or too weak
to cover the target), malabsorption and own supplements, and 2 to 5 meals a
day. Each profile gets its own ISO week in 2025 so the week's rotation varies.
Changing this list makes the MILP cache stale for the changed entries; rebuild
it with ``python benchmarks/milp_reference.py``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from planner.domain.model import Profile  # noqa: E402
from planner.domain.profile import parse_profile  # noqa: E402

DIETS = ("vegan", "vegetarian", "pescatarian", "omnivore")
AGES = (25, 34, 47, 58, 67, 72, 81, 19)

# (name, profile JSON); days default to 7 everywhere.
_RAW: list[tuple[str, dict]] = []


def _add(name: str, **fields) -> None:
    _RAW.append((name, {"days": 7, **fields}))


# 1. Every diet with 2, 3, 4 and 5 meals a day (16).
for i, diet in enumerate(DIETS):
    for meals in (2, 3, 4, 5):
        _add(f"{diet}-{meals}meals", age_years=AGES[(i * 4 + meals) % len(AGES)],
             diet=diet, meals_per_day=meals,
             sex=("female", "male", "unspecified")[(i + meals) % 3])

# 2. Allergies (8).
_add("vegan-soy-gluten", age_years=29, diet="vegan", allergies=["soy", "gluten"])
_add("vegan-treenut-soy-4meals", age_years=41, diet="vegan", meals_per_day=4,
     allergies=["tree_nut", "soy"])
_add("vegetarian-milk-egg", age_years=36, diet="vegetarian", allergies=["milk", "egg"])
_add("vegetarian-soy-gluten-nut", age_years=52, diet="vegetarian", meals_per_day=2,
     allergies=["soy", "gluten", "tree_nut"])
_add("pescatarian-fish", age_years=44, diet="pescatarian", allergies=["fish"])
_add("pescatarian-milk-5meals", age_years=23, diet="pescatarian", meals_per_day=5,
     allergies=["milk"])
_add("omnivore-fish-shellfish", age_years=61, diet="omnivore",
     allergies=["fish", "shellfish"])
_add("omnivore-gluten-milk-egg", age_years=38, diet="omnivore", meals_per_day=4,
     allergies=["gluten", "milk", "egg"])

# 3. Guideline bodies with higher or lower targets (8).
_add("vegan-efsa", age_years=30, diet="vegan", guideline="efsa")
_add("vegetarian-dach-4meals", age_years=45, diet="vegetarian", guideline="dach",
     meals_per_day=4)
_add("omnivore-nnr", age_years=50, diet="omnivore", guideline="nnr")
_add("pescatarian-uk-2meals", age_years=27, diet="pescatarian", guideline="uk",
     meals_per_day=2)
_add("vegan-who-5meals", age_years=33, diet="vegan", guideline="who", meals_per_day=5)
_add("omnivore-efsa-5meals", age_years=40, diet="omnivore", guideline="efsa",
     meals_per_day=5)
_add("vegan-dach-2meals", age_years=35, diet="vegan", guideline="dach", meals_per_day=2)
_add("vegetarian-nnr", age_years=66, diet="vegetarian", guideline="nnr")

# 4. Life stages and children (8).
_add("vegan-pregnant", age_years=30, sex="female", life_stage="pregnant", diet="vegan")
_add("vegetarian-lactating", age_years=32, sex="female", life_stage="lactating",
     diet="vegetarian")
_add("omnivore-pregnant-efsa", age_years=28, sex="female", life_stage="pregnant",
     diet="omnivore", guideline="efsa")
_add("vegan-lactating-efsa-4meals", age_years=34, sex="female", life_stage="lactating",
     diet="vegan", guideline="efsa", meals_per_day=4)
_add("vegan-child-5y", age_years=5, diet="vegan", meals_per_day=4)
_add("omnivore-child-12y", age_years=12, diet="omnivore")
_add("vegetarian-toddler-2y", age_years=2, diet="vegetarian", meals_per_day=5)
_add("pescatarian-teen-16y", age_years=16, diet="pescatarian")

# 5. Own food lists (8).
_add("vegan-own-three", age_years=31, diet="vegan",
     include_foods=["soy_drink_fortified_original", "cheerios",
                    "nutritional_yeast_fortified_generic"])
_add("vegan-own-oat-drink-only", age_years=26, diet="vegan",
     include_foods=["oat_drink_fortified_eu"])
_add("vegan-own-unfortified", age_years=39, diet="vegan",
     include_foods=["tofu_firm_nigari", "soy_drink_unfortified", "tempeh"])
_add("vegan-own-low-dose", age_years=42, diet="vegan",
     include_foods=["soya_yogurt_fortified", "vegan_spread_fortified",
                    "oat_drink_fortified_eu", "rice_drink_unsweetened_fortified"])
_add("vegetarian-own-dairy-eggs", age_years=55, diet="vegetarian",
     include_foods=["egg_hard_boiled", "cheddar_cheese", "milk_2_percent",
                    "yogurt_plain_low_fat"])
_add("omnivore-own-lean", age_years=48, diet="omnivore", meals_per_day=2,
     include_foods=["chicken_breast_roasted", "pork_tenderloin_roasted",
                    "egg_scrambled", "milk_skim"])
_add("pescatarian-own-fish", age_years=37, diet="pescatarian",
     include_foods=["salmon_atlantic_farmed_cooked", "tuna_light_canned_water",
                    "cod_atlantic_cooked", "milk_whole"])
_add("omnivore-own-rich", age_years=64, diet="omnivore",
     include_foods=["beef_liver_braised", "clams_cooked_moist_heat",
                    "greek_yogurt_plain_fat_free"])

# 6. Medicines and conditions (6).
_add("omnivore-pernicious-anemia", age_years=63, diet="omnivore",
     conditions=["pernicious_anemia"])
_add("vegetarian-gastric-bypass", age_years=46, diet="vegetarian",
     conditions=["gastric_bypass"])
_add("omnivore-metformin-70", age_years=70, diet="omnivore", medications=["metformin"])
_add("vegan-ppi-55", age_years=55, diet="vegan", medications=["ppi"], meals_per_day=4)
_add("pescatarian-crohns", age_years=29, diet="pescatarian", conditions=["crohns_disease"])
_add("omnivore-atrophic-gastritis-78", age_years=78, diet="omnivore",
     conditions=["atrophic_gastritis"], meals_per_day=2)

# 7. Exclusions and own supplements (6).
_add("vegan-no-cereals", age_years=24, diet="vegan",
     exclude_foods=["kelloggs_all_bran_original", "kelloggs_all_bran_complete_wheat_flakes",
                    "total_whole_grain", "cheerios", "kelloggs_corn_flakes",
                    "kelloggs_raisin_bran", "kelloggs_rice_krispies", "corn_chex",
                    "rice_chex", "kelloggs_frosted_flakes", "cinnamon_toast_crunch",
                    "post_bran_flakes", "fiber_one_original"])
_add("omnivore-excludes-favourites", age_years=53, diet="omnivore",
     exclude_foods=["kelloggs_special_k", "total_whole_grain",
                    "kelloggs_all_bran_complete_wheat_flakes",
                    "almond_drink_sweetened_vanilla_fortified",
                    "coconut_drink_sweetened_fortified", "morningstar_grillers_crumbles",
                    "nutritional_yeast_fortified_generic", "tuna_bluefin_cooked"])
_add("vegan-own-weekly-supplement", age_years=44, diet="vegan",
     supplement={"dose_ug": 2000, "frequency": "weekly"})
_add("omnivore-own-daily-supplement", age_years=71, diet="omnivore",
     supplement={"dose_ug": 10, "frequency": "daily"}, meals_per_day=3)
_add("vegetarian-small-supplement-5meals", age_years=59, diet="vegetarian",
     meals_per_day=5, supplement={"dose_ug": 2, "frequency": "daily"})
_add("pescatarian-old-90", age_years=90, diet="pescatarian", meals_per_day=3)


@dataclass(frozen=True)
class BenchCase:
    name: str
    data: dict
    profile: Profile
    week: str


def bench_cases() -> list[BenchCase]:
    """The benchmark profiles, parsed, each with its fixed ISO week."""
    return [
        BenchCase(name, data, parse_profile(data), f"2025-W{(i % 52) + 1:02d}")
        for i, (name, data) in enumerate(_RAW)
    ]
