/**
 * Domain types used across the client: aliases of the schema generated from the
 * server's /openapi.json (schema.gen.ts), so the rest of the app never names a
 * generated schema directly.
 */
import type { components } from "./schema.gen";

type Schemas = components["schemas"];

export type User = Schemas["UserRead"];
export type Media = Schemas["MediaRead"];
export type Message = Schemas["MessageRead"];
export type Conversation = Schemas["ConversationRead"];
export type FormerMembership = Schemas["FormerMembership"];
export type Member = Schemas["MemberRead"];
export type ChatEvent = Schemas["EventRead"];
export type Reaction = Schemas["ReactionRead"];
export type Pin = Schemas["PinRead"];
export type EventMember = Schemas["EventMember"];
export type EventConversation = Schemas["EventConversation"];
export type TokenPair = Schemas["TokenPair"];
export type AuthOptions = Schemas["AuthOptions"];
export type SignInProvider = Schemas["ProviderRead"];
export type SignInMethods = Schemas["SignInMethods"];
export type SignedInSession = Schemas["SessionRead"];
export type OidcOutcome = Schemas["OidcSignedIn"] | Schemas["OidcLinked"] | Schemas["OidcSignupNeeded"];
export type OidcSignupNeeded = Schemas["OidcSignupNeeded"];
export type Role = Member["role"];
export type ConversationKind = Conversation["kind"];
export type EventType = ChatEvent["type"];
export type SearchHit = Schemas["SearchHit"];
export type SearchResults = Schemas["SearchResults"];
export type SnippetPart = Schemas["SnippetPart"];
export type UserSettings = Schemas["UserSettingsRead"];
