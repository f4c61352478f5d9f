"""The pydantic models of the checked path: every coercion and bound of `sync/coerce.py`,
with pydantic's reject reasons (`normalise.py` quotes the first error). Records the strict
path (`sync/strict.py`) does not accept are validated here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from worker.sync.coerce import (
    Commission,
    Count,
    Flag,
    Id,
    Id32,
    Key,
    LocalDate,
    Money,
    Size,
    Text,
    WebUrl,
)


class PropertyRecord(BaseModel):
    """The public, typed view of a property. Field aliases are the API's names."""

    model_config = ConfigDict(extra="ignore", strict=False)

    listing_id: Key = Field(alias="listingId")
    listing_key: Text = Field(None, alias="listingKey")
    title_en: Text = Field(None, alias="listingTitle_en")
    title_es: Text = Field(None, alias="listingTitle_es")
    contract_type_id: Id32 = Field(None, alias="listingContractType")
    status_id: Id32 = Field(None, alias="standardStatusId")
    probable_use_id: Id32 = Field(None, alias="listingProbableUseId")
    property_type_id: Id32 = Field(None, alias="propertyTypeId")
    general_location_id: Id32 = Field(None, alias="propertyGeneralLocationId")
    list_price: Money = Field(None, alias="listPrice")
    list_price_currency_id: Id32 = Field(None, alias="listPriceCurrencyID")
    list_price_private: Flag = Field(None, alias="listPricePrivateYN")
    address_public: Flag = Field(None, alias="unparsedAddressPublicYN")
    bedrooms: Count = Field(None, alias="bedroomsTotal")
    bathrooms_full: Count = Field(None, alias="bathroomsFull")
    bathrooms_half: Count = Field(None, alias="bathroomsHalf")
    lot_size: Size = Field(None, alias="lotSizeArea")
    lot_size_units_id: Id32 = Field(None, alias="lotSizeUnitsId")
    construction_size: Size = Field(None, alias="constructionSize")
    construction_size_units_id: Id32 = Field(None, alias="constructionSizeUnitsId")
    country_id: Id = Field(None, alias="countryId")
    state_id: Id = Field(None, alias="stateDepProvId")
    location_id: Id = Field(None, alias="locationId")
    listing_date: LocalDate = Field(None, alias="listingDate")
    listing_contract_date: LocalDate = Field(None, alias="listingContractDate")
    expiration_date: LocalDate = Field(None, alias="expirationDate")
    close_date: LocalDate = Field(None, alias="closeDate")
    agent_id: Id = Field(None, alias="member")
    office_code: Text = Field(None, alias="officecode")
    remarks_en: Text = Field(None, alias="publicRemarks_en")
    remarks_es: Text = Field(None, alias="publicRemarks_es")
    furnished: Flag = Field(None, alias="furnishedYN")
    maid_room: Flag = Field(None, alias="maidRoomYN")
    listing_agreement: Flag = Field(None, alias="listingAgreementYN")
    cooling: Flag = Field(None, alias="coolingYN")
    pool_private: Flag = Field(None, alias="poolPrivateYN")


class PropertyPrivateRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    owner_name: Text = Field(None, alias="ownerName")
    owner_phones: Text = Field(None, alias="ownerPhones")
    owner_email: Text = Field(None, alias="ownerEmail")
    private_remarks_en: Text = Field(None, alias="privateRemarks_en")
    private_remarks_es: Text = Field(None, alias="privateRemarks_es")
    showing_instruction: Text = Field(None, alias="showingInstruction")
    listing_side_comm: Commission = Field(None, alias="listingSideComm")
    selling_side_comm: Commission = Field(None, alias="sellingSideComm")
    close_listing_comm_amount: Money = Field(None, alias="closeListingCommAmount")
    close_selling_comm_amount: Money = Field(None, alias="closeSellingCommAmount")


class AssociateRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    associate_id: Key = Field(alias="associateID")
    remax_id: Text = Field(None, alias="remaxID")
    first_name: Text = Field(None, alias="firstName")
    last_name: Text = Field(None, alias="lastName")
    mobile: Text = Field(None, alias="mobile")
    email: Text = Field(None, alias="remaxEmail")
    image_url: WebUrl = Field(None, alias="urlMemberImage")
    office_id: Id = Field(None, alias="officeID")
    office_name: Text = Field(None, alias="officeName")
    office_code: Text = Field(None, alias="officeCode")
    country_id: Id = Field(None, alias="officeCountryID")
