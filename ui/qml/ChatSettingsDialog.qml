// This chat's settings: its system prompt and the reply settings it overrides. An empty field
// follows the global setting (shown as the placeholder), so changing Settings later still
// applies to what this chat did not set itself.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Dialog {
    id: dialog
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject chat: workspace.chat
    readonly property QtObject settings: workspace.settings

    // key: the engine's name (stored in the conversation); global: the Settings value.
    readonly property var fields: [
        { key: "temperature", label: qsTr("Temperature"), global: settings.temperature, decimals: 2 },
        { key: "top_k", label: qsTr("Top-k"), global: settings.topK, decimals: 0 },
        { key: "top_p", label: qsTr("Top-p"), global: settings.topP, decimals: 2 },
        { key: "min_p", label: qsTr("Min-p"), global: settings.minP, decimals: 2 },
        { key: "repeat_penalty", label: qsTr("Repeat penalty"), global: settings.repeatPenalty, decimals: 2 },
        { key: "max_tokens", label: qsTr("Max reply length"), global: settings.maxTokens, decimals: 0 }
    ]

    objectName: "chatSettingsDialog"
    parent: Overlay.overlay
    modal: true
    title: qsTr("This chat's settings")
    standardButtons: Dialog.Save | Dialog.Cancel
    padding: 16

    onAboutToShow: {
        prompt.text = chat.systemPrompt
        toolsSwitch.checked = chat.toolsEnabled
        const o = chat.samplingOverrides
        for (let i = 0; i < fieldRepeater.count; ++i) {
            const f = fieldRepeater.itemAt(i)
            f.text = o[f.key] !== undefined ? String(o[f.key]) : ""
        }
    }
    onAccepted: {
        const o = {}
        for (let i = 0; i < fieldRepeater.count; ++i) {
            const f = fieldRepeater.itemAt(i)
            if (f.text.trim().length > 0 && !isNaN(Number(f.text))) o[f.key] = Number(f.text)
        }
        chat.setChatSettings(prompt.text, o)
        chat.setToolsEnabled(toolsSwitch.checked)
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        Label {
            text: qsTr("System prompt")
            font.bold: true
        }
        ScrollView {
            Layout.fillWidth: true
            Layout.preferredHeight: 90
            TextArea {
                id: prompt
                objectName: "chatSystemPrompt"
                wrapMode: TextEdit.Wrap
                placeholderText: qsTr("No system prompt")
                background: Rectangle {
                    color: dialog.theme.base
                    border.color: prompt.activeFocus ? dialog.theme.accent : dialog.theme.border
                    radius: 4
                }
            }
        }
        Button {
            text: qsTr("Use the default system prompt")
            onClicked: prompt.text = dialog.settings.systemPrompt
        }
        Label {
            Layout.topMargin: 8
            text: qsTr("Replies")
            font.bold: true
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: dialog.theme.subtle
            text: qsTr("Leave a field empty to use the value from Settings (shown in grey).")
        }
        GridLayout {
            columns: 2
            columnSpacing: 12
            Repeater {
                id: fieldRepeater
                model: dialog.fields
                delegate: TextField {
                    required property var modelData
                    required property int index
                    readonly property string key: modelData.key
                    Layout.row: index
                    Layout.column: 1
                    Layout.preferredWidth: 120
                    placeholderText: modelData.decimals > 0 ? Number(modelData.global).toFixed(modelData.decimals)
                                                            : String(Math.round(modelData.global))
                    validator: DoubleValidator { bottom: 0; notation: DoubleValidator.StandardNotation }
                }
            }
            Repeater {
                model: dialog.fields
                delegate: Label {
                    required property var modelData
                    required property int index
                    Layout.row: index
                    Layout.column: 0
                    Layout.preferredWidth: 160
                    text: modelData.label
                }
            }
        }
        // Tools (MCP servers, Settings → Tools): the model may ask to run them; each call is
        // shown for the user's approval first.
        CheckBox {
            id: toolsSwitch
            objectName: "chatToolsSwitch"
            Layout.topMargin: 8
            text: qsTr("Tools: let the model call the tools of the MCP servers (Settings, Tools tab)")
        }
        Label {
            Layout.fillWidth: true
            Layout.topMargin: 8
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            color: dialog.theme.subtle
            visible: dialog.chat.conversationModel.length > 0
            text: qsTr("Model: %1").arg(dialog.chat.conversationModel)
        }
    }
}
