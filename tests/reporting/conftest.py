import pytest

from dhnet.orgunits.models import OrgUnit
from dhnet.reporting.models import DataElementMapping
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)
from tests.reporting.helpers import UIDS


@pytest.fixture
def mappings(tree: dict[str, OrgUnit]) -> dict[str, DataElementMapping]:  # noqa: F811
    """DHIS2 ids for the org units, and data element mappings: measles cases/deaths, cholera cases by age (summed)."""
    for code, uid in UIDS.items():
        OrgUnit.objects.filter(code=code).update(uid=uid)
    make = DataElementMapping.objects.create
    from dhnet.diseases.models import Disease

    measles, cholera = Disease.objects.get(code="measles"), Disease.objects.get(code="cholera")
    return {
        "measles": make(data_element="MeaslesCas1", data_element_code="MEASLES_CASES", disease=measles),
        "measles_deaths": make(
            data_element="MeaslesDth1", data_element_code="MEASLES_DEATHS", disease=measles, measure="deaths"
        ),
        "cholera_u5": make(
            data_element="CholeraCas1",
            data_element_code="CHOLERA_CASES",
            category_option_combo="Under5aaaaa",
            category_option_combo_code="U5",
            disease=cholera,
        ),
        "cholera_5p": make(
            data_element="CholeraCas1",
            data_element_code="CHOLERA_CASES",
            category_option_combo="Over5aaaaaa",
            category_option_combo_code="O5",
            disease=cholera,
        ),
    }
